// The agent's /healthz server under connections that never finish: capped, closed when idle, still
// answering. Loopback only.

import type http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HEALTH_IDLE_TIMEOUT_MS,
  HEALTH_MAX_CONNECTIONS,
  startHealthServer,
} from '../../agent/health-server.js';
import type { Reporter } from '../../agent/reporter.js';

const reporter = {
  status: () => ({
    state: 'ok',
    startedAt: Date.now(),
    lastProbeAt: Date.now(),
    lastAcceptedAt: null,
    pending: false,
  }),
} as unknown as Reporter;

let server: http.Server | null = null;
afterEach(async () => {
  const s = server;
  server = null;
  if (s === null) return;
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
});

/** Opens a TCP connection that sends nothing; resolves with when (ms after open) the server closed it. */
function idleConnection(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('connect', () => {
      const opened = Date.now();
      const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

async function listening(): Promise<number> {
  server = await startHealthServer({ host: '127.0.0.1', port: 0 }, reporter, 60_000);
  return (server.address() as net.AddressInfo).port;
}

describe('agent health server', () => {
  it('binds loopback by default in the agent options', async () => {
    const { AGENT_FLAGS } = await import('../../agent/options.js');
    expect(AGENT_FLAGS['health-host'].default).toBe('127.0.0.1');
  });

  it('closes a connection that sends nothing within the idle timeout', async () => {
    const port = await listening();
    const { closed } = await idleConnection(port);
    const after = await closed;
    expect(after).toBeGreaterThanOrEqual(HEALTH_IDLE_TIMEOUT_MS - 100);
    expect(after).toBeLessThan(HEALTH_IDLE_TIMEOUT_MS + 1500);
  });

  it('closes a client trickling its headers within the request timeout', async () => {
    const port = await listening();
    const { socket, closed } = await idleConnection(port);
    socket.write('GET /healthz HTTP/1.1\r\n');
    // One header byte every 500 ms keeps the socket from ever being idle for the idle timeout.
    const trickle = setInterval(() => socket.writable && socket.write('X'), 500);
    try {
      expect(await closed).toBeLessThan(6000);
    } finally {
      clearInterval(trickle);
    }
  });

  it(`keeps at most ${HEALTH_MAX_CONNECTIONS} connections, destroys the rest, answers once they are gone`, async () => {
    const port = await listening();
    const opened = await Promise.all(
      Array.from({ length: HEALTH_MAX_CONNECTIONS * 3 }, () => idleConnection(port)),
    );
    const closedAt = await Promise.all(opened.map((c) => c.closed));
    // Beyond the cap the server destroys a connection as soon as it is accepted.
    const atOnce = closedAt.filter((ms) => ms < HEALTH_IDLE_TIMEOUT_MS / 2).length;
    expect(atOnce).toBeGreaterThanOrEqual(HEALTH_MAX_CONNECTIONS * 2);
    expect(Math.max(...closedAt)).toBeLessThan(HEALTH_IDLE_TIMEOUT_MS + 1500);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });
});
