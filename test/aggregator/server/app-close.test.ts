// AggregatorServer.close(deadline) on a real TLS listener (127.0.0.1): slow and idle clients — headers
// trickled a byte per 100 ms, a half-finished TLS handshake, an idle keep-alive connection — are closed at
// once, a request in flight is answered, and a request still arriving at the deadline is cut there.
// Timeouts of the limits are a minute here, so only the shutdown can explain a close.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedTokenAuthenticator } from '../../../aggregator/auth/shared-token.js';
import type { AggregatorServer } from '../../../aggregator/server/app.js';
import { generateTestPki } from '../../helpers/certs.js';
import { makeApp, sampleReport, TOKEN, tokenFile } from '../harness.js';

const MINUTE = 60_000;
const LIMITS = {
  maxConnections: 1000,
  maxConnectionsPerClient: 100,
  handshakeTimeoutMs: MINUTE,
  headersTimeoutMs: MINUTE,
  keepAliveTimeoutMs: MINUTE,
};

let server: AggregatorServer | null = null;
const sockets: net.Socket[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.destroy();
  await server?.app.close();
  server = null;
});

/** Authentication that takes `delayMs`: a request in flight while the server closes. */
function slowAuthenticator(delayMs: number) {
  const inner = new SharedTokenAuthenticator({ file: tokenFile() });
  return {
    describe: () => 'slow shared token',
    async authenticate(token: string | undefined, node: string) {
      await new Promise((r) => setTimeout(r, delayMs));
      return inner.authenticate(token, node);
    },
  };
}

async function listen(authDelayMs = 0): Promise<number> {
  const { server: pair } = await generateTestPki({ dnsNames: ['localhost'] });
  const t = await makeApp({ tls: pair, connections: LIMITS, authenticator: slowAuthenticator(authDelayMs) });
  server = t.server;
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return (t.app.server.address() as net.AddressInfo).port;
}

/** Resolves once `socket` is closed; with when, relative to `since()`. */
function closedAt(socket: net.Socket, since: () => number): Promise<number> {
  return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - since())));
}

async function tlsClient(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((r) => socket.once('secureConnect', r));
  return socket;
}

/** Headers a byte per 100 ms, never finished within the test. */
async function trickler(port: number): Promise<net.Socket> {
  const socket = await tlsClient(port);
  const text = `POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\nx-slow: ${'a'.repeat(10_000)}`;
  let i = 0;
  timers.push(setInterval(() => socket.destroyed || socket.write(text[i++] ?? 'a'), 100));
  return socket;
}

/** A TCP connection that sends the start of a ClientHello and stalls. */
async function halfHandshake(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]));
  return socket;
}

/** One request answered, then the connection kept open and idle. */
async function idleKeepAlive(port: number): Promise<net.Socket> {
  const socket = await tlsClient(port);
  socket.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n');
  await new Promise<void>((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) resolve();
    });
  });
  return socket;
}

/** A report POSTed in full; resolves with the status line's code. */
async function postReport(port: number): Promise<number> {
  const socket = await tlsClient(port);
  const body = JSON.stringify(sampleReport('node-a'));
  socket.write(
    `POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${TOKEN}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) resolve(Number(m[1]));
    });
    socket.once('close', () => resolve(-1));
  });
}

describe('AggregatorServer.close(deadline)', () => {
  it('closes trickling, half-handshaken and idle keep-alive clients at once and answers the request in flight', async () => {
    const port = await listen(1500);
    const slow = [await trickler(port), await halfHandshake(port), await idleKeepAlive(port)];
    await new Promise((r) => setTimeout(r, 300)); // the trickler is well into its headers
    const answer = postReport(port);
    await new Promise((r) => setTimeout(r, 200)); // the report is being authenticated
    let started = 0;
    const closes = slow.map((s) => closedAt(s, () => started));
    started = Date.now();
    const figures = await (server as AggregatorServer).close(5000);
    const elapsed = Date.now() - started;
    expect(await answer).toBe(202);
    expect(figures).toMatchObject({ closedIdle: 3, destroyedAtDeadline: 0 });
    for (const ms of await Promise.all(closes)) expect(ms).toBeLessThan(500);
    // Done when the answer is out (~1.3 s of authentication left), not at the deadline.
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(4000);
    server = null;
  });

  it('destroys a request still arriving at the deadline, and refuses new connections meanwhile', async () => {
    const port = await listen();
    const socket = await tlsClient(port);
    // Headers complete (a request in flight), the body a byte per 100 ms.
    socket.write(
      'POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n' +
        `authorization: Bearer ${TOKEN}\r\ncontent-length: 100000\r\n\r\n{`,
    );
    timers.push(setInterval(() => socket.destroyed || socket.write(' '), 100));
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const closing = (server as AggregatorServer).close(1500);
    const cut = closedAt(socket, () => started);
    await new Promise((r) => setTimeout(r, 200));
    const late = net.connect(port, '127.0.0.1');
    sockets.push(late);
    late.on('error', () => {});
    const lateClosed = await Promise.race([
      new Promise<'closed'>((r) => late.once('close', () => r('closed'))),
      new Promise<'open'>((r) => setTimeout(() => r('open'), 1000)),
    ]);
    const figures = await closing;
    expect(lateClosed).toBe('closed');
    expect(figures).toMatchObject({ closedIdle: 0, destroyedAtDeadline: 1 });
    expect(await cut).toBeGreaterThanOrEqual(1400);
    expect(figures.durationMs).toBeLessThan(2500);
    server = null;
  });
});
