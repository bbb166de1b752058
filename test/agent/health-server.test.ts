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

  it(`keeps at most ${HEALTH_MAX_CONNECTIONS} connections: each newcomer pushes out the oldest quiet one`, async () => {
    const port = await listening();
    const opened: Array<{ socket: net.Socket; closed: Promise<number> }> = [];
    for (let i = 0; i < HEALTH_MAX_CONNECTIONS * 3; i++) opened.push(await idleConnection(port));
    const closedAt = await Promise.all(opened.map((c) => c.closed));
    // The first 2×cap were pushed out at once by the later ones; the last cap stayed until idle.
    const early = closedAt.slice(0, HEALTH_MAX_CONNECTIONS * 2);
    const late = closedAt.slice(HEALTH_MAX_CONNECTIONS * 2);
    expect(Math.max(...early)).toBeLessThan(HEALTH_IDLE_TIMEOUT_MS - 500);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(HEALTH_IDLE_TIMEOUT_MS - 100);
    expect(Math.max(...closedAt)).toBeLessThan(HEALTH_IDLE_TIMEOUT_MS + 1500);
  });

  it('answers /healthz while other clients hold every connection slot idle', async () => {
    const port = await listening();
    const held = [];
    for (let i = 0; i < HEALTH_MAX_CONNECTIONS; i++) held.push(await idleConnection(port));
    for (let round = 0; round < 5; round++) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok' });
      held.push(await idleConnection(port)); // refill what the probe pushed out
    }
    for (const h of held) h.socket.destroy();
  });

  it('destroys the newcomer only when every slot has a request in progress', async () => {
    const { createServer } = await import('node:http');
    const { capConnections } = await import('../../agent/health-server.js');
    const parked: Array<() => void> = [];
    const s = createServer((_req, res) => parked.push(() => res.end('ok')));
    capConnections(s, 2);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    try {
      const inFlight = [0, 1].map(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()));
      while (parked.length < 2) await new Promise((r) => setTimeout(r, 10));
      const { closed } = await idleConnection(port);
      expect(await closed).toBeLessThan(500);
      for (const release of parked) release();
      expect(await Promise.all(inFlight)).toEqual(['ok', 'ok']);
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
});
