// How many connections the aggregator holds and for how long, so that no number of idle or slow clients
// can grow it past its memory limit: a cap on all connections (Node destroys those beyond it on accept), a
// cap per client address (counted here, excess destroyed at once), a TLS handshake deadline, a deadline
// for the request headers and the whole request, and a short keep-alive: agents report once a minute, so a
// connection kept between their reports would only hold memory.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerClient: number;
  handshakeTimeoutMs: number;
  /** Complete headers within this, the whole request within 3 × this (at least 30 s). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 4096,
  maxConnectionsPerClient: 64,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/** The whole request (a 1 MiB report on a slow link included) must arrive within this. */
export function requestTimeoutMs(limits: ConnectionLimits): number {
  return Math.max(30_000, 3 * limits.headersTimeoutMs);
}

/** Applies the limits to a listening-to-be server; returns a counter of connections refused per client. */
export function applyConnectionLimits(
  server: Server,
  limits: ConnectionLimits,
): { refusedPerClient(): number } {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = requestTimeoutMs(limits);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const perClient = new Map<string, number>();
  let refused = 0;
  // 'connection' is the raw TCP socket, before any TLS handshake: a refused one costs no handshake.
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = perClient.get(address) ?? 0;
    if (open >= limits.maxConnectionsPerClient) {
      refused++;
      socket.destroy();
      return;
    }
    perClient.set(address, open + 1);
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });
  return { refusedPerClient: () => refused };
}
