// The aggregator's connection caps and timeouts on a real TLS listener (127.0.0.1), and the refusals
// counted in metrics and summarised in the log.
import net from 'node:net';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionLimits } from '../../../aggregator/server/connection-limits.js';
import { generateTestPki } from '../../helpers/certs.js';
import { makeApp, type TestApp } from '../harness.js';

let app: FastifyInstance | null = null;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = null;
});

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A pino-shaped logger that keeps what it is given (only what the server's parts call). */
function captureLogger(lines: Logged[]) {
  const at = (level: string) => (obj: object, msg?: string) =>
    void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger = {
    level: 'debug',
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    fatal: at('fatal'),
    trace: at('trace'),
    silent: () => {},
    child: () => logger,
  };
  return logger;
}

async function listen(connections: ConnectionLimits, logs?: Logged[]): Promise<number> {
  return (await listenApp(connections, logs)).port;
}

async function listenApp(
  connections: ConnectionLimits,
  logs?: Logged[],
): Promise<TestApp & { port: number }> {
  const { server } = await generateTestPki({ dnsNames: ['localhost'] });
  const t = await makeApp({ tls: server, connections, ...(logs ? { logger: captureLogger(logs) } : {}) });
  app = t.app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { ...t, port: (app.server.address() as net.AddressInfo).port };
}

/** A raw TCP connection; resolves when the server closes it, with how long it stayed open. */
function tcp(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('connect', () => {
      const at = Date.now();
      resolve({ socket, closed: new Promise((done) => socket.once('close', () => done(Date.now() - at))) });
    });
  });
}

const limits = {
  maxConnections: 1000,
  maxConnectionsPerClient: 5,
  handshakeTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  keepAliveTimeoutMs: 1000,
};

describe('connection limits', () => {
  it('holds at most N connections per client address and destroys the rest at once', async () => {
    const port = await listen(limits);
    const conns = await Promise.all(Array.from({ length: 12 }, () => tcp(port)));
    const early = await Promise.all(
      conns.map((c) => Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 300))])),
    );
    expect(early.filter((ms) => ms >= 0)).toHaveLength(7);
    for (const c of conns) c.socket.destroy();
  });

  it('a client that never finishes its TLS handshake is closed at the handshake timeout', async () => {
    const port = await listen(limits);
    const { closed } = await tcp(port);
    const ms = await closed;
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4000);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const port = await listen(limits);
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('secureConnect', r));
    const at = Date.now();
    socket.resume(); // read the response, so the close is seen
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(Date.now() - at).toBeLessThan(4000);
  });

  it('a client that completes its TLS handshake and then sends nothing is closed at the headers timeout', async () => {
    // Before: held for ever (Node's header timeout starts with the first byte), so idle TLS connections
    // piled up to --max-connections and stayed after the flood.
    const port = await listen(limits);
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('secureConnect', r));
    const at = Date.now();
    const closed = await Promise.race([
      new Promise<number>((r) => socket.once('close', () => r(Date.now() - at))),
      new Promise<number>((r) => setTimeout(() => r(-1), 5000)),
    ]);
    expect(closed).toBeGreaterThanOrEqual(900);
    expect(closed).toBeLessThan(4000);
  });
});

describe('connections refused on accept', () => {
  const gauge = async (t: TestApp, name: string) =>
    (await t.server.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  const refusedBy = async (t: TestApp) =>
    Object.fromEntries(
      (await gauge(t, 'osmo_validator_connections_refused_total')).map((v) => [v.labels['reason'], v.value]),
    );

  it('counts per-client and max-connections refusals by reason, each at debug, one summary at info', async () => {
    const logs: Logged[] = [];
    const t = await listenApp({ ...limits, maxConnections: 8, maxConnectionsPerClient: 5 }, logs);
    expect(await refusedBy(t)).toEqual({ 'max-connections': 0, 'per-client': 0 });
    // From 127.0.0.1: five held, the rest refused per client.
    await Promise.all(Array.from({ length: 7 }, () => tcp(t.port)));
    // From 127.0.0.2 and .3 (loopback too): three more fill the global cap of 8, the next ones are dropped.
    const from = (localAddress: string) =>
      new Promise<void>((resolve) => {
        const socket = net.connect({ port: t.port, host: '127.0.0.1', localAddress });
        sockets.push(socket);
        socket.on('error', () => {});
        socket.once('connect', () => resolve());
      });
    for (const a of ['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.3', '127.0.0.3']) await from(a);
    for (let i = 0; i < 100 && (await refusedBy(t))['max-connections'] !== 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await refusedBy(t)).toEqual({ 'max-connections': 2, 'per-client': 2 });
    expect((await gauge(t, 'osmo_validator_connections_open'))[0]?.value).toBe(8);
    const debug = logs.filter((l) => l.msg === 'connection refused');
    expect(debug.map((l) => l.level)).toEqual(['debug', 'debug', 'debug', 'debug']);
    expect(logs.filter((l) => l.level === 'info' && /connections refused/.test(l.msg ?? ''))).toEqual([]);
    // The summary comes with the close (or after a minute): counts by reason, the addresses refused most.
    for (const s of sockets.splice(0)) s.destroy();
    await t.server.close(2000);
    app = null;
    const summaries = logs.filter((l) => l.level === 'info' && /connections refused/.test(l.msg ?? ''));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.obj).toMatchObject({
      refused: { 'max-connections': 2, 'per-client': 2 },
      total: 4,
      topAddresses: { '127.0.0.1': 2, '127.0.0.3': 2 },
    });
  });
});
