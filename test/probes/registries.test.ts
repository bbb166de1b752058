// Registry reachability against loopback HTTPS servers with a self-signed CA (no outside network).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registriesProbe } from '../../agent/probes/registries.js';
import { fixtureHostContext } from '../helpers/fixture-host.js';

let dir: string;
let caFile: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();
const ports: Record<'ok' | 'auth' | 'hang' | 'unavailable' | 'refused', number> = {
  ok: 0,
  auth: 0,
  hang: 0,
  unavailable: 0,
  refused: 0,
};

async function listen(key: string, cert: string, status: number | null): Promise<number> {
  const server = createHttpsServer({ key, cert }, (req, res) => {
    if (status === null) return; // never answers
    res.writeHead(req.url === '/v2/' ? status : 404, { 'content-type': 'application/json' });
    res.end('{}');
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'osmo-test-registry' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  dir = await mkdtemp(path.join(tmpdir(), 'osmo-registry-'));
  caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, pems.cert);
  ports.ok = await listen(pems.private, pems.cert, 200);
  ports.auth = await listen(pems.private, pems.cert, 401);
  ports.hang = await listen(pems.private, pems.cert, null);
  ports.unavailable = await listen(pems.private, pems.cert, 503);
  // A port nobody listens on: bind one, then close it.
  const tcp = createTcpServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  ports.refused = (tcp.address() as AddressInfo).port;
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await rm(dir, { recursive: true, force: true });
});

const run = (registries: string[] | null, timeoutMs = 2000, withCa = true) =>
  registriesProbe.run(
    fixtureHostContext('bare'),
    { registries, registryTimeoutMs: timeoutMs, registryCaFile: withCa ? caFile : undefined },
    new AbortController().signal,
  );

describe('registries probe', () => {
  it('200 and 401 are reachable', async () => {
    const [ok, auth] = (await run([`127.0.0.1:${ports.ok}`, `127.0.0.1:${ports.auth}`]))!;
    expect(ok).toMatchObject({
      host: `127.0.0.1:${ports.ok}`,
      endpoint: `127.0.0.1:${ports.ok}`,
      reachable: true,
      dnsResolved: true,
      httpStatus: 200,
      error: null,
    });
    expect(ok?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(auth).toMatchObject({ reachable: true, httpStatus: 401, error: null });
  });

  it('resolves names through DNS (localhost)', async () => {
    const [r] = (await run([`localhost:${ports.auth}`]))!;
    expect(r).toMatchObject({ endpoint: `localhost:${ports.auth}`, dnsResolved: true, reachable: true });
  });

  it('any other status is not reachable, and says so', async () => {
    const [r] = (await run([`127.0.0.1:${ports.unavailable}`]))!;
    expect(r).toMatchObject({
      reachable: false,
      httpStatus: 503,
      error: 'unexpected HTTP status 503 from /v2/',
    });
  });

  it('a server that never answers → timeout, within the bound', async () => {
    const started = performance.now();
    const [r] = (await run([`127.0.0.1:${ports.hang}`], 300))!;
    expect(performance.now() - started).toBeLessThan(1500);
    expect(r).toMatchObject({
      reachable: false,
      httpStatus: null,
      latencyMs: null,
      error: 'timeout after 300ms',
    });
  });

  it('a closed port → ECONNREFUSED', async () => {
    const [r] = (await run([`127.0.0.1:${ports.refused}`]))!;
    expect(r).toMatchObject({ reachable: false, dnsResolved: true, error: 'ECONNREFUSED' });
  });

  it('an untrusted certificate is a TLS error, not reachable', async () => {
    const [r] = (await run([`127.0.0.1:${ports.ok}`], 2000, false))!;
    expect(r?.reachable).toBe(false);
    expect(r?.error).toMatch(/self[- ]signed certificate/);
  });

  it('probes registries concurrently', async () => {
    const started = performance.now();
    const results = (await run(
      [`127.0.0.1:${ports.hang}`, `127.0.0.1:${ports.hang}`, `127.0.0.1:${ports.ok}`],
      400,
    ))!;
    expect(performance.now() - started).toBeLessThan(780); // sequential would need ≥ 800 ms
    expect(results.map((r) => r.reachable)).toEqual([false, false, true]);
  });

  it('`none` (null) skips the probe', async () => {
    expect(await run(null)).toBeNull();
  });

  it('a malformed entry is a result with an error, not a crash', async () => {
    const [r] = (await run(['https://nvcr.io/v2/']))!;
    expect(r).toMatchObject({ reachable: false, dnsResolved: false });
    expect(r?.error).toMatch(/host\[:port\]/);
  });
});
