// The image pull after /v2/, against a fake registry and a fake token server on 127.0.0.1 (TLS with a test
// CA that the `registry-client` fixture host's CA bundle trusts). The challenges are the real registries'
// WWW-Authenticate values (test/fixtures/real/registry/), verbatim but for the realm's host, which points at
// the fake token server (auth.test, another name than the registry's, as auth.docker.io is).
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHostContext, type HostContext } from '../../../agent/host.js';
import { registriesProbe } from '../../../agent/probes/registries.js';
import {
  MANIFEST_ACCEPT,
  parseBearerChallenge,
  TOKEN_BODY_MAX_BYTES,
  tokenFromBody,
} from '../../../agent/probes/registry-pull.js';
import { generateTestPki } from '../../helpers/certs.js';
import { fixtureHostPath, realFixturePath } from '../../helpers/fixture-host.js';

const real = (file: string) => readFile(realFixturePath(`registry/${file}`), 'utf8');

interface Seen {
  server: 'registry' | 'token';
  method: string;
  url: string;
  host: string;
  authorization: string | undefined;
  accept: string | undefined;
}
const seen: Seen[] = [];

/** What the fake registry answers, set per test. */
let registry: { v2Status: number; challenge: string | null; manifestStatus: number; token: string | null };
/** What the fake token server answers, set per test. */
let tokenAnswer: { status: number; body: string };

const TOKEN = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.shortened.signature';
let dir: string;
let root: string;
let host: HostContext;
const servers: Server[] = [];
const sockets = new Set<Socket>();
let registryPort = 0;
let authPort = 0;
let closedPort = 0;

function track(server: Server) {
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  servers.push(server);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  const pki = await generateTestPki({ dnsNames: ['registry.test', 'auth.test'], ips: ['127.0.0.1'] });
  const reg = createHttpsServer(pki.server, (req, res) => {
    const record = { method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' };
    seen.push({
      server: 'registry',
      ...record,
      authorization: req.headers.authorization,
      accept: req.headers.accept,
    });
    if (req.url === '/v2/') {
      const headers = registry.challenge === null ? {} : { 'www-authenticate': registry.challenge };
      res.writeHead(registry.v2Status, { 'content-type': 'application/json', ...headers });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}');
      return;
    }
    const authorized = registry.token === null || req.headers.authorization === `Bearer ${registry.token}`;
    res.writeHead(authorized ? registry.manifestStatus : 401, {
      'content-type': 'application/vnd.oci.image.index.v1+json',
      'docker-content-digest': 'sha256:907ca53d7e2947e849b839b1cd258c98fd3916c60f2e6e70c30edbf741ab6754',
    });
    res.end();
  });
  const auth = createHttpsServer(pki.server, (req, res) => {
    const record = { method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' };
    seen.push({
      server: 'token',
      ...record,
      authorization: req.headers.authorization,
      accept: req.headers.accept,
    });
    res.writeHead(tokenAnswer.status, { 'content-type': 'application/json' });
    res.end(tokenAnswer.body);
  });
  track(reg);
  track(auth);
  registryPort = await listen(reg);
  authPort = await listen(auth);
  const tcp = createTcpServer();
  closedPort = await new Promise<number>((resolve) =>
    tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as AddressInfo).port)),
  );
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  // The fixture host, with the test CA in its own CA bundle: the node trusts it, this process does not.
  dir = await mkdtemp(path.join(tmpdir(), 'osmo-pull-'));
  root = path.join(dir, 'host');
  await cp(fixtureHostPath('registry-client'), root, { recursive: true });
  await mkdir(path.join(root, 'etc/ssl/certs'), { recursive: true });
  await writeFile(path.join(root, 'etc/ssl/certs/ca-certificates.crt'), pki.ca.cert);
  host = createHostContext({ root, execMode: 'local', path: '' });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  seen.length = 0;
  registry = {
    v2Status: 401,
    challenge: (await real('registry-1.docker.io-v2.www-authenticate')).replace(
      'https://auth.docker.io',
      `https://auth.test:${authPort}`,
    ),
    manifestStatus: 200,
    token: TOKEN,
  };
  tokenAnswer = { status: 200, body: await real('auth.docker.io.token.json') };
});

const IMAGE = 'library/busybox:1.36';
async function probe(entry = `registry.test:${registryPort}/${IMAGE}`, timeoutMs = 2000) {
  const results = await registriesProbe.run(
    host,
    { registries: [entry], registryTimeoutMs: timeoutMs },
    new AbortController().signal,
  );
  return results![0]!;
}

describe('the image pull after /v2/', () => {
  it('401 → token from the realm on another host → manifest 200: ok, the token sent, never reported', async () => {
    const r = await probe();
    expect(r).toMatchObject({ reachable: true, httpStatus: 401, error: null });
    expect(r.pull).toEqual({ image: IMAGE, status: 'ok', httpStatus: 200, error: null });
    const token = seen.find((s) => s.server === 'token')!;
    const url = new URL(token.url, 'https://auth.test');
    expect(token.host).toBe(`auth.test:${authPort}`);
    expect(url.pathname).toBe('/token');
    expect(url.searchParams.get('service')).toBe('registry.docker.io');
    expect(url.searchParams.get('scope')).toBe('repository:library/busybox:pull');
    expect(token.authorization).toBeUndefined(); // anonymous
    const manifest = seen.find((s) => s.server === 'registry' && s.method === 'HEAD')!;
    expect(manifest.url).toBe('/v2/library/busybox/manifests/1.36');
    expect(manifest.authorization).toBe(`Bearer ${TOKEN}`);
    expect(manifest.accept).toBe(MANIFEST_ACCEPT);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it("nvcr.io's challenge (no service): the token request carries only the scope", async () => {
    registry.challenge = (await real('nvcr.io-v2.www-authenticate')).replace(
      'https://nvcr.io',
      `https://auth.test:${authPort}`,
    );
    tokenAnswer.body = await real('nvcr.io.token.json');
    registry.token = 'eyJhbGciOiJSUzI1NiJ9.shortened.signature';
    const r = await probe(`registry.test:${registryPort}/nvidia/cuda:13.0.2-base-ubuntu24.04`);
    expect(r.pull).toMatchObject({ image: 'nvidia/cuda:13.0.2-base-ubuntu24.04', status: 'ok' });
    const url = new URL(seen.find((s) => s.server === 'token')!.url, 'https://auth.test');
    expect(url.pathname).toBe('/proxy_auth');
    expect([...url.searchParams.keys()]).toEqual(['scope']);
    expect(url.searchParams.get('scope')).toBe('repository:nvidia/cuda:pull');
  });

  it("ghcr.io's challenge names a placeholder scope: the probe asks for its own repository", async () => {
    registry.challenge = (await real('ghcr.io-v2.www-authenticate')).replace(
      'https://ghcr.io',
      `https://auth.test:${authPort}`,
    );
    const r = await probe(`registry.test:${registryPort}/containerd/busybox:1.36`);
    expect(r.pull?.status).toBe('ok');
    const url = new URL(seen.find((s) => s.server === 'token')!.url, 'https://auth.test');
    expect(url.searchParams.get('service')).toBe('ghcr.io');
    expect(url.searchParams.get('scope')).toBe('repository:containerd/busybox:pull');
  });

  it('/v2/ 200 (an open mirror): the manifest without a token', async () => {
    registry = { v2Status: 200, challenge: null, manifestStatus: 200, token: null };
    const r = await probe();
    expect(r).toMatchObject({ reachable: true, httpStatus: 200 });
    expect(r.pull).toEqual({ image: IMAGE, status: 'ok', httpStatus: 200, error: null });
    expect(seen.filter((s) => s.server === 'token')).toEqual([]);
    expect(seen.find((s) => s.method === 'HEAD')?.authorization).toBeUndefined();
  });

  it('no image for a mirror: /v2/ only, the pull not tested and why', async () => {
    const r = await probe(`registry.test:${registryPort}`);
    expect(r.reachable).toBe(true);
    expect(r.pull).toEqual({
      image: null,
      status: 'not-tested',
      httpStatus: null,
      error: 'no image configured to pull (give one as host/repository:tag)',
    });
    expect(seen.map((s) => s.url)).toEqual(['/v2/']);
  });

  it('the token endpoint cut off (connection refused): blocked', async () => {
    registry.challenge = `Bearer realm="https://auth.test:${closedPort}/token",service="registry.docker.io"`;
    const r = await probe();
    expect(r.reachable).toBe(true);
    expect(r.pull).toMatchObject({
      status: 'blocked',
      httpStatus: null,
      error: `token endpoint auth.test:${closedPort}: ECONNREFUSED`,
    });
  });

  it('the realm on a host the node cannot resolve: blocked, ENOTFOUND', async () => {
    registry.challenge = `Bearer realm="https://auth.nowhere.test:${authPort}/token",service="registry.docker.io"`;
    const r = await probe();
    expect(r.pull).toMatchObject({
      status: 'blocked',
      error: `token endpoint auth.nowhere.test:${authPort}: ENOTFOUND`,
    });
  });

  it('the token endpoint refuses anonymous access (403): denied', async () => {
    tokenAnswer = { status: 403, body: '<html><body>Access denied by policy</body></html>' };
    const r = await probe();
    expect(r.pull).toMatchObject({ status: 'denied', httpStatus: 403 });
    expect(r.pull?.error).toContain('answered 403');
  });

  it('manifest 403 with a good token (a proxy refusing the pull path): denied', async () => {
    registry.manifestStatus = 403;
    const r = await probe();
    expect(r.pull).toEqual({
      image: IMAGE,
      status: 'denied',
      httpStatus: 403,
      error: 'manifest library/busybox:1.36: HTTP 403',
    });
  });

  it('manifest 404: not-found (the configured image does not exist)', async () => {
    registry.manifestStatus = 404;
    const r = await probe();
    expect(r.pull).toMatchObject({ status: 'not-found', httpStatus: 404 });
  });

  it('a malformed WWW-Authenticate: not tested, quoting it', async () => {
    registry.challenge = 'Bearer realm=https://auth.test/token,service="unterminated';
    const r = await probe();
    expect(r.reachable).toBe(true);
    expect(r.pull).toMatchObject({ status: 'not-tested', httpStatus: null });
    expect(r.pull?.error).toMatch(/^malformed WWW-Authenticate: /);
    expect(seen.filter((s) => s.server === 'token')).toEqual([]);
  });

  it('a Basic-only registry: not tested (no anonymous pull)', async () => {
    registry.challenge = 'Basic realm="Registry Realm"';
    const r = await probe();
    expect(r.pull).toMatchObject({ status: 'not-tested' });
    expect(r.pull?.error).toContain('Basic credentials');
  });

  it(`a token body over ${TOKEN_BODY_MAX_BYTES} bytes: cut off, not tested`, async () => {
    tokenAnswer = { status: 200, body: JSON.stringify({ token: 'x'.repeat(TOKEN_BODY_MAX_BYTES + 10) }) };
    const r = await probe();
    expect(r.pull).toMatchObject({ status: 'not-tested' });
    expect(r.pull?.error).toBe(
      `token endpoint auth.test:${authPort}: response body over ${TOKEN_BODY_MAX_BYTES} bytes`,
    );
    expect(seen.filter((s) => s.method === 'HEAD')).toEqual([]);
  });

  it('a token realm that accepts connections and never answers: blocked at the bound, named', async () => {
    const silent = createTcpServer((socket) => {
      sockets.add(socket as Socket);
      socket.on('close', () => sockets.delete(socket as Socket));
    });
    const silentPort = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)),
    );
    try {
      registry.challenge = `Bearer realm="https://auth.test:${silentPort}/token",service="registry.docker.io"`;
      const started = performance.now();
      const r = await probe(undefined, 300);
      // /v2/ answered at once; the pull has its own bound of --registry-timeout.
      expect(performance.now() - started).toBeLessThan(1500);
      expect(r.reachable).toBe(true);
      expect(r.pull).toMatchObject({
        status: 'blocked',
        error: `token endpoint auth.test:${silentPort}: timeout after 300ms`,
      });
    } finally {
      for (const s of sockets) if (s.remotePort === undefined || s.localPort === silentPort) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('an unreachable registry is not pulled from', async () => {
    const r = await probe(`registry.test:${closedPort}/${IMAGE}`);
    expect(r).toMatchObject({ reachable: false, error: 'ECONNREFUSED' });
    expect(r.pull).toEqual({
      image: IMAGE,
      status: 'not-tested',
      httpStatus: null,
      error: 'the registry is not reachable',
    });
  });
});

describe('parseBearerChallenge on the real headers', () => {
  it('reads realm and service of nvcr.io, Docker Hub and ghcr.io verbatim', async () => {
    const nvcr = parseBearerChallenge([await real('nvcr.io-v2.www-authenticate')]);
    expect(nvcr).toMatchObject({ service: null });
    expect('realm' in nvcr && nvcr.realm.href).toBe('https://nvcr.io/proxy_auth');
    const hub = parseBearerChallenge([await real('registry-1.docker.io-v2.www-authenticate')]);
    expect('realm' in hub && [hub.realm.href, hub.service]).toEqual([
      'https://auth.docker.io/token',
      'registry.docker.io',
    ]);
    const ghcr = parseBearerChallenge([await real('ghcr.io-v2.www-authenticate')]);
    expect('realm' in ghcr && [ghcr.realm.href, ghcr.service]).toEqual(['https://ghcr.io/token', 'ghcr.io']);
  });

  it('finds the Bearer challenge among several, scheme case-insensitive, quoted commas kept', () => {
    const r = parseBearerChallenge([
      'Basic realm="x"',
      'bearer realm="https://auth.example/token",service="a,b",scope="repository:x/y:pull,push"',
    ]);
    expect('realm' in r && [r.realm.href, r.service]).toEqual(['https://auth.example/token', 'a,b']);
  });

  it('refuses what cannot be followed, saying why', () => {
    expect(parseBearerChallenge(undefined)).toEqual({
      error: '401 from /v2/ without a WWW-Authenticate header',
    });
    expect(parseBearerChallenge(['Bearer service="x"'])).toMatchObject({
      error: expect.stringMatching(/^malformed/),
    });
    expect(parseBearerChallenge(['Bearer realm="http://auth.example/token"'])).toMatchObject({
      error: expect.stringMatching(/is not an https URL/),
    });
    expect(parseBearerChallenge(['Bearer realm="not a url"'])).toMatchObject({
      error: expect.stringMatching(/realm is not a URL/),
    });
    expect(parseBearerChallenge(['Negotiate abc'])).toMatchObject({
      error: expect.stringMatching(/no Bearer challenge/),
    });
    expect(parseBearerChallenge(['Basic realm="r"'])).toEqual({ basic: true });
  });
});

describe('tokenFromBody', () => {
  it('token, else access_token; neither or not JSON is an error', async () => {
    expect(tokenFromBody(Buffer.from(await real('auth.docker.io.token.json')))).toBe(TOKEN);
    expect(tokenFromBody(Buffer.from('{"access_token":"a"}'))).toBe('a');
    expect(tokenFromBody(Buffer.from('{"expires_in":300}'))).toEqual({
      error: 'the token response holds no token',
    });
    expect(tokenFromBody(Buffer.from('<html>'))).toEqual({ error: 'the token response is not JSON' });
  });
});
