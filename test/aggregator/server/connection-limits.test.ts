// The aggregator's connection caps and timeouts on a real TLS listener (127.0.0.1).
import net from 'node:net';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionLimits } from '../../../aggregator/server/connection-limits.js';
import { generateTestPki } from '../../helpers/certs.js';
import { makeApp } from '../harness.js';

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function listen(connections: ConnectionLimits): Promise<number> {
  const { server } = await generateTestPki({ dnsNames: ['localhost'] });
  const t = await makeApp({ tls: server, connections });
  app = t.app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/** A raw TCP connection; resolves when the server closes it, with how long it stayed open. */
function tcp(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
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
    socket.on('error', () => {});
    await new Promise((r) => socket.once('secureConnect', r));
    const at = Date.now();
    socket.resume(); // read the response, so the close is seen
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(Date.now() - at).toBeLessThan(4000);
  });
});
