// Access to the OSMO service (--osmo-url) as the node reaches it: a fake service on 127.0.0.1 behind the
// name osmo.test, which only the `registry-client` fixture host's etc/hosts knows, with a test CA only its
// CA bundle trusts. Any HTTP status over TLS is reachable; DNS, TCP and TLS failures are not, and say which.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runCheck } from '../../../agent/check-command.js';
import { createHostContext, type HostContext } from '../../../agent/host.js';
import { osmoProbe, osmoUrlProblem } from '../../../agent/probes/osmo.js';
import type { NodeResult } from '../../../report/schema.js';
import { generateTestPki } from '../../helpers/certs.js';
import { fixtureHostPath } from '../../helpers/fixture-host.js';
import { captureIo } from '../../helpers/io.js';

let dir: string;
let root: string;
let bare: string;
let host: HostContext;
let server: Server;
const sockets = new Set<Socket>();
const requests: { url: string; host: string }[] = [];
let port = 0;
let closedPort = 0;

beforeAll(async () => {
  const pki = await generateTestPki({ dnsNames: ['osmo.test'], ips: ['127.0.0.1'] });
  // The service answers a login redirect, as a web front end does to an anonymous client.
  server = createHttpsServer(pki.server, (req, res) => {
    requests.push({ url: req.url ?? '', host: req.headers.host ?? '' });
    res.writeHead(302, { location: '/login' });
    res.end();
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const tcp = createTcpServer();
  closedPort = await new Promise<number>((resolve) =>
    tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as AddressInfo).port)),
  );
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  dir = await mkdtemp(path.join(tmpdir(), 'osmo-service-'));
  root = path.join(dir, 'host');
  await cp(fixtureHostPath('registry-client'), root, { recursive: true });
  // The same host without the CA: the service's certificate is then untrusted.
  bare = path.join(dir, 'untrusting');
  await cp(fixtureHostPath('registry-client'), bare, { recursive: true });
  await mkdir(path.join(root, 'etc/ssl/certs'), { recursive: true });
  await writeFile(path.join(root, 'etc/ssl/certs/ca-certificates.crt'), pki.ca.cert);
  host = createHostContext({ root, execMode: 'local', path: '' });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

const probe = (osmoUrl: string | null, on: HostContext = host, timeoutMs = 2000) =>
  osmoProbe.run(
    on,
    { registries: null, registryTimeoutMs: timeoutMs, osmoUrl },
    new AbortController().signal,
  );

describe('osmo probe', () => {
  it('no URL configured: null (the check is skip)', async () => {
    expect(await probe(null)).toBeNull();
  });

  it('any HTTP status over TLS is reachable: a 302 to the login page, path and Host as configured', async () => {
    requests.length = 0;
    const url = `https://osmo.test:${port}/api/health?x=1`;
    const r = await probe(url);
    expect(r).toMatchObject({
      url,
      endpoint: `osmo.test:${port}`,
      reachable: true,
      dnsResolved: true,
      httpStatus: 302,
      error: null,
    });
    expect(r?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requests).toEqual([{ url: '/api/health?x=1', host: `osmo.test:${port}` }]);
  });

  it('a name the host cannot resolve: DNS, not reachable', async () => {
    const r = await probe(`https://osmo.nowhere.test:${port}/`);
    expect(r).toMatchObject({ reachable: false, dnsResolved: false, httpStatus: null, error: 'ENOTFOUND' });
  });

  it('a closed port: ECONNREFUSED', async () => {
    const r = await probe(`https://osmo.test:${closedPort}/`);
    expect(r).toMatchObject({ reachable: false, dnsResolved: true, error: 'ECONNREFUSED' });
  });

  it('a certificate the host does not trust: a TLS error', async () => {
    const r = await probe(
      `https://osmo.test:${port}/`,
      createHostContext({ root: bare, execMode: 'local', path: '' }),
    );
    expect(r?.reachable).toBe(false);
    expect(r?.error).toMatch(/unable to verify the first certificate/); // a CA the host does not trust
  });

  it('refuses URLs it must not probe or report', () => {
    expect(osmoUrlProblem('https://osmo.example.com')).toBeNull();
    expect(osmoUrlProblem('http://osmo.example.com')).toMatch(/not an https/);
    expect(osmoUrlProblem('osmo.example.com')).toMatch(/not an absolute URL/);
    expect(osmoUrlProblem('https://user:secret@osmo.example.com')).toMatch(/credentials/);
    expect(osmoUrlProblem(`https://osmo.example.com/${'a'.repeat(2100)}`)).toMatch(/longer than 2048/);
  });
});

describe('check --osmo-url', () => {
  const check = async (args: string[]) => {
    const io = captureIo();
    const code = await runCheck(['--host-root', root, '--registries', 'none', '--json', ...args], io);
    return { code, io };
  };
  const osmoCheck = (out: string) =>
    (JSON.parse(out) as NodeResult).checks.find((c) => c.id === 'osmo.reachable');

  it('reachable: osmo.reachable passes, facts.osmo reported', async () => {
    const { io } = await check(['--osmo-url', `https://osmo.test:${port}/`, '--checks', 'osmo.reachable']);
    expect(osmoCheck(io.out())).toMatchObject({
      status: 'pass',
      observed: `https://osmo.test:${port}/: HTTP 302`,
    });
    expect((JSON.parse(io.out()) as NodeResult).facts.osmo?.reachable).toBe(true);
  });

  it('unreachable: fails, naming the stage and the error (exit 1)', async () => {
    const { code, io } = await check([
      '--osmo-url',
      `https://osmo.nowhere.test:${port}/`,
      '--checks',
      'osmo.reachable',
    ]);
    expect(code).toBe(1);
    expect(osmoCheck(io.out())).toMatchObject({ status: 'fail' });
    expect(osmoCheck(io.out())?.message).toContain('(DNS: ENOTFOUND)');
  });

  it('from OSMO_VALIDATOR_OSMO_URL too; without either, skip', async () => {
    const io = captureIo({ OSMO_VALIDATOR_OSMO_URL: `https://osmo.test:${port}/` });
    await runCheck(['--host-root', root, '--registries', 'none', '--json', '--checks', 'osmo.reachable'], io);
    expect(osmoCheck(io.out())?.status).toBe('pass');
    const { code, io: none } = await check(['--checks', 'osmo.reachable']);
    expect(code).toBe(0);
    expect(osmoCheck(none.out())).toMatchObject({
      status: 'skip',
      message: expect.stringContaining('no OSMO URL configured'),
    });
  });

  it('an http:// URL is a usage error naming the flag (exit 2)', async () => {
    const { code, io } = await check(['--osmo-url', 'http://osmo.example.com']);
    expect(code).toBe(2);
    expect(io.err()).toContain('--osmo-url: "http://osmo.example.com" is not an https:// URL');
  });
});
