// Registry reachability against loopback HTTPS servers with a self-signed CA (no outside network). Names
// are resolved as the host resolves them: the `registry-client` fixture host's getent fake answers from its
// etc/hosts (registry.test, mirror.test, slow.test → 127.0.0.1), names this machine's DNS never knows.
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostContext, type HostContext } from '../../../agent/host.js';
import { ProbeFailure } from '../../../agent/probe-failure.js';
import { parseGetentAhosts } from '../../../agent/probes/host-resolve.js';
import { registriesProbe } from '../../../agent/probes/registries.js';
import { fixtureHostContext, fixtureHostPath } from '../../helpers/fixture-host.js';

let dir: string;
let caFile: string;
let caPem: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();
const hostHeaders: string[] = [];
const ports: Record<'ok' | 'auth' | 'hang' | 'unavailable' | 'refused', number> = {
  ok: 0,
  auth: 0,
  hang: 0,
  unavailable: 0,
  refused: 0,
};

async function listen(key: string, cert: string, status: number | null): Promise<number> {
  const server = createHttpsServer({ key, cert }, (req, res) => {
    hostHeaders.push(req.headers.host ?? '');
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
          { type: 2, value: 'registry.test' },
          { type: 2, value: 'mirror.test' },
          { type: 2, value: 'slow.test' },
        ],
      },
    ],
  });
  dir = await mkdtemp(path.join(tmpdir(), 'osmo-registry-'));
  caPem = pems.cert;
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

const runOn = (host: HostContext, registries: string[] | null, timeoutMs = 2000, withCa = true) =>
  registriesProbe.run(
    host,
    { registries, registryTimeoutMs: timeoutMs, registryCaFile: withCa ? caFile : undefined },
    new AbortController().signal,
  );
const run = (registries: string[] | null, timeoutMs = 2000, withCa = true) =>
  runOn(fixtureHostContext('registry-client'), registries, timeoutMs, withCa);

/** A writable copy of the registry-client fixture host, for trust stores written per test. */
async function hostCopy(name: string): Promise<string> {
  const root = path.join(dir, name);
  await cp(fixtureHostPath('registry-client'), root, { recursive: true });
  return root;
}
const hostAt = (root: string) => createHostContext({ root, execMode: 'local', path: '' });

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

  it('resolves names as the host does: a mirror pinned in its etc/hosts that no DNS server knows', async () => {
    hostHeaders.length = 0;
    const [r] = (await run([`registry.test:${ports.auth}`]))!;
    expect(r).toMatchObject({
      endpoint: `registry.test:${ports.auth}`,
      dnsResolved: true,
      reachable: true,
      httpStatus: 401,
      error: null,
    });
    // Connected to the resolved address, yet asked for the name (virtual hosts, TLS SNI).
    expect(hostHeaders).toEqual([`registry.test:${ports.auth}`]);
  });

  it('localhost too goes through the host resolver', async () => {
    const [r] = (await run([`localhost:${ports.auth}`]))!;
    expect(r).toMatchObject({ endpoint: `localhost:${ports.auth}`, dnsResolved: true, reachable: true });
  });

  it('a name the host cannot resolve → ENOTFOUND, not resolved', async () => {
    const [r] = (await run([`nowhere.test:${ports.ok}`]))!;
    expect(r).toMatchObject({ reachable: false, dnsResolved: false, httpStatus: null, error: 'ENOTFOUND' });
  });

  it("local mode, root other than /, getent only on this machine's PATH: unknown, never the pod's answer", async () => {
    // The normal PATH: this machine's getent (if any) would consult THIS machine's nsswitch and resolv.conf.
    const local = createHostContext({ root: fixtureHostPath('bare'), execMode: 'local' });
    const [r] = (await runOn(local, [`localhost:${ports.ok}`]))!;
    const expected =
      (await local.which('getent')) === null
        ? 'cannot resolve localhost as the host does: getent not found'
        : 'cannot resolve localhost as the host does: use --exec-mode chroot';
    expect(r).toMatchObject({ reachable: false, dnsResolved: false, httpStatus: null, error: expected });
  });

  it('no getent anywhere under a host root other than /: unknown, says so', async () => {
    const [r] = (await runOn(hostAt(fixtureHostPath('bare')), [`localhost:${ports.ok}`]))!;
    expect(r).toMatchObject({
      reachable: false,
      dnsResolved: false,
      error: 'cannot resolve localhost as the host does: getent not found',
    });
  });

  it('tries every address the host resolved, in order, not only the first', async () => {
    const root = await hostCopy('multi-address');
    // 127.0.0.2 is loopback too, but nothing listens there: the first address refuses the connection.
    await writeFile(
      path.join(root, 'usr/bin/getent'),
      '#!/bin/sh\nprintf "127.0.0.2       STREAM registry.test\\n127.0.0.1       STREAM\\n"\n',
      { mode: 0o755 },
    );
    hostHeaders.length = 0;
    const [r] = (await runOn(hostAt(root), [`registry.test:${ports.auth}`]))!;
    expect(r).toMatchObject({ dnsResolved: true, reachable: true, httpStatus: 401, error: null });
    expect(hostHeaders).toEqual([`registry.test:${ports.auth}`]);
  });

  it('a resolver that never answers → timeout, within the bound', async () => {
    const started = performance.now();
    const [r] = (await run([`hang.test:${ports.ok}`], 300))!;
    expect(performance.now() - started).toBeLessThan(1500);
    expect(r).toMatchObject({ reachable: false, dnsResolved: false, error: 'timeout after 300ms' });
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

  it('a timeout names the configured bound, not what was left after resolving (stable reports)', async () => {
    const started = performance.now();
    // slow.test takes 0.2 s to resolve; the request then gets the remaining ~300 ms.
    const [r] = (await run([`slow.test:${ports.hang}`], 500))!;
    expect(performance.now() - started).toBeLessThan(1500);
    expect(r).toMatchObject({ reachable: false, dnsResolved: true, error: 'timeout after 500ms' });
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

  it("trusts the host's CA bundle (a private CA only the host trusts)", async () => {
    const root = await hostCopy('debian-bundle');
    await mkdir(path.join(root, 'etc/ssl/certs'), { recursive: true });
    await writeFile(path.join(root, 'etc/ssl/certs/ca-certificates.crt'), caPem);
    const [r] = (await runOn(hostAt(root), [`registry.test:${ports.ok}`], 2000, false))!;
    expect(r).toMatchObject({ reachable: true, httpStatus: 200, error: null });
  });

  it('the RHEL bundle, through an absolute symlink resolved under the host root', async () => {
    const root = await hostCopy('rhel-bundle');
    await mkdir(path.join(root, 'etc/pki/tls/certs'), { recursive: true });
    await mkdir(path.join(root, 'etc/pki/ca-trust/extracted/pem'), { recursive: true });
    await writeFile(path.join(root, 'etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem'), caPem);
    // As on RHEL; followed inside this machine instead, it would name a file that is not there.
    await symlink(
      '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
      path.join(root, 'etc/pki/tls/certs/ca-bundle.crt'),
    );
    const [r] = (await runOn(hostAt(root), [`registry.test:${ports.ok}`], 2000, false))!;
    expect(r).toMatchObject({ reachable: true, error: null });
  });

  it("containerd's certs.d/<host>/*.crt is trusted for that registry only", async () => {
    const root = await hostCopy('certs-d');
    const certsDir = path.join(root, `etc/containerd/certs.d/registry.test:${ports.ok}`);
    await mkdir(certsDir, { recursive: true });
    await writeFile(path.join(certsDir, 'ca.crt'), caPem);
    const [mine, other] = (await runOn(
      hostAt(root),
      [`registry.test:${ports.ok}`, `mirror.test:${ports.ok}`],
      2000,
      false,
    ))!;
    expect(mine).toMatchObject({ reachable: true, error: null });
    expect(other?.reachable).toBe(false);
    expect(other?.error).toMatch(/self[- ]signed certificate/);
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

  it('a malformed entry is a typed parse failure naming it (no report can carry it), not a crash', async () => {
    // --registries refuses such an entry before any probe runs.
    const failure = await run(['nvcr.io', 'https://nvcr.io/v2/']).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProbeFailure);
    expect(failure).toMatchObject({
      kind: 'parse',
      message: expect.stringMatching(/https:\/\/nvcr.io.*host\[:port\]/),
    });
  });
});

describe('parseGetentAhosts', () => {
  it('every distinct address, in getaddrinfo order', () => {
    expect(
      parseGetentAhosts('2001:db8::5     STREAM nvcr.io\n2001:db8::5     DGRAM\n10.1.2.3        STREAM\n'),
    ).toEqual([
      { address: '2001:db8::5', family: 6 },
      { address: '10.1.2.3', family: 4 },
    ]);
    expect(parseGetentAhosts('10.1.2.3        STREAM registry.local\n')).toEqual([
      { address: '10.1.2.3', family: 4 },
    ]);
    expect(parseGetentAhosts('')).toEqual([]);
    expect(parseGetentAhosts('not an address\n')).toEqual([]);
  });
});
