// How many connections the aggregator holds and for how long, so that no number of idle or slow clients
// can grow it past its memory limit or hold its exit: a cap on all connections (Node destroys those beyond
// it on accept), a cap per client address (counted here, excess destroyed at once), a TLS handshake
// deadline, a deadline for the first request's headers (a connection that completes its handshake and then
// sends nothing is otherwise held forever: Node's header timeout only starts with the first byte), a
// deadline for the whole request, and a short keep-alive: agents report once a minute, so a connection
// kept between their reports would only hold memory. On shutdown (beginClose, then destroyAll at the
// deadline) connections not answering a request are closed at once, the others when their response is out.
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

/**
 * maxConnections bounds the memory a flood can take: each open TLS connection costs ~50 KiB of native
 * memory (OpenSSL, buffers), which glibc keeps for reuse after it closes. 2,048 held the Deployment's
 * aggregator at 334 MiB of its 512 Mi under 4 × 5,000 idle connections (4,096: 493 MiB;
 * test/soak/idle-tls-flood.test.ts). Agents need far fewer: one connection a minute each, open for the
 * request and the 5 s keep-alive, ~850 at once for 10,000 nodes.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 2048,
  maxConnectionsPerClient: 64,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/** Why a connection was closed on accept: the global cap (--max-connections) or the per-address one. */
export const CONNECTION_REFUSAL_REASONS = ['max-connections', 'per-client'] as const;
export type ConnectionRefusalReason = (typeof CONNECTION_REFUSAL_REASONS)[number];

/** The whole request (a 1 MiB report on a slow link included) must arrive within this. */
export function requestTimeoutMs(limits: ConnectionLimits): number {
  return Math.max(30_000, 3 * limits.headersTimeoutMs);
}

/** One accepted connection: the TCP socket, the socket HTTP runs on (the TLS one once handshaken). */
interface Connection {
  tcp: Socket;
  http: Socket | undefined;
  address: string;
  /** Requests being answered on it. */
  busy: number;
  /** Closes it if no request arrives in time (from accept for HTTP, from the handshake for TLS). */
  firstRequest: NodeJS.Timeout | undefined;
}

export interface ConnectionTracker {
  /** Connections held now. */
  open(): number;
  /** Connections closed on accept so far, by reason. */
  refused(): Record<ConnectionRefusalReason, number>;
  /**
   * Shutdown, first step: new connections are closed on accept, connections not answering a request
   * (idle keep-alive, stalled handshakes, headers still trickling in) are destroyed now, and the others
   * are ended as soon as their response is out. Returns how many were destroyed now.
   */
  beginClose(): number;
  /** Shutdown, at the deadline: destroys every connection left. Returns how many. */
  destroyAll(): number;
}

const keyOf = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;

/** A connection's record, on the socket HTTP runs on and on each response being answered on it. */
const CONNECTION = Symbol('tracked connection');
type Carries = { [CONNECTION]?: Connection };

type RefusalListener = (reason: ConnectionRefusalReason, address: string) => void;

type Response = Carries & { on(event: 'close', fn: (this: Carries) => void): unknown };

/** The connections of one server, by remote address and port, and how many each client address holds. */
class TrackedConnections implements ConnectionTracker {
  private readonly connections = new Map<string, Connection>();
  private readonly perClient = new Map<string, number>();
  private readonly refusals: Record<ConnectionRefusalReason, number> = {
    'max-connections': 0,
    'per-client': 0,
  };
  private closing = false;
  /** One listener for every response's close (no closure per request); `this` is the response. */
  private readonly responseClosed: (this: Carries) => void;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly tls: boolean,
    private readonly onRefused: RefusalListener | undefined,
  ) {
    const tracker = this;
    this.responseClosed = function (this: Carries) {
      const c = this[CONNECTION];
      if (c === undefined) return;
      c.busy--;
      if (tracker.closing && c.busy === 0) c.http?.end();
    };
  }

  open(): number {
    return this.connections.size;
  }

  refused(): Record<ConnectionRefusalReason, number> {
    return { ...this.refusals };
  }

  refuse(reason: ConnectionRefusalReason, address: string): void {
    this.refusals[reason]++;
    this.onRefused?.(reason, address);
  }

  /** A TCP connection accepted (before any TLS handshake: a refused one costs no handshake). */
  accept(socket: Socket): void {
    const address = socket.remoteAddress;
    if (address === undefined || this.closing) {
      socket.destroy();
      return;
    }
    const open = this.perClient.get(address) ?? 0;
    if (open >= this.limits.maxConnectionsPerClient) {
      socket.destroy();
      this.refuse('per-client', address);
      return;
    }
    this.perClient.set(address, open + 1);
    const key = keyOf(socket);
    const c: Connection = { tcp: socket, http: undefined, address, busy: 0, firstRequest: undefined };
    this.connections.set(key, c);
    if (!this.tls) this.speaksHttp(c, socket);
    socket.once('close', () => this.forget(key, c));
  }

  /** The TLS handshake of a connection completed: HTTP runs on `socket` now. */
  handshaken(socket: Socket): void {
    const c = this.connections.get(keyOf(socket));
    if (c) this.speaksHttp(c, socket);
  }

  /** A request arrived (its headers complete); `res` closes once answered or the connection is gone. */
  request(socket: Socket, res: Response): void {
    const c = (socket as Carries)[CONNECTION];
    if (c === undefined) return;
    if (c.firstRequest !== undefined) {
      clearTimeout(c.firstRequest);
      c.firstRequest = undefined;
    }
    c.busy++;
    res[CONNECTION] = c;
    res.on('close', this.responseClosed); // emitted once
  }

  beginClose(): number {
    this.closing = true;
    const idle = [...this.connections.values()].filter((c) => c.busy === 0);
    for (const c of idle) destroy(c);
    return idle.length;
  }

  destroyAll(): number {
    this.closing = true;
    const left = [...this.connections.values()];
    for (const c of left) destroy(c);
    return left.length;
  }

  private speaksHttp(c: Connection, socket: Socket): void {
    c.http = socket;
    (socket as Carries)[CONNECTION] = c;
    // Node's header timeout starts with the first byte: one that never comes is this deadline's.
    c.firstRequest = setTimeout(() => destroy(c), this.limits.headersTimeoutMs);
    c.firstRequest.unref();
  }

  private forget(key: string, c: Connection): void {
    clearTimeout(c.firstRequest);
    if (this.connections.get(key) === c) this.connections.delete(key);
    const left = (this.perClient.get(c.address) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(c.address);
    else this.perClient.set(c.address, left);
  }
}

function destroy(c: Connection): void {
  c.http?.destroy();
  c.tcp.destroy();
}

/**
 * Applies the limits to a listening-to-be server (HTTP, or HTTPS with `tls`) and tracks its connections.
 * `onRefused` hears of each connection closed on accept.
 */
export function applyConnectionLimits(
  server: Server,
  limits: ConnectionLimits,
  options: { tls?: boolean; onRefused?: RefusalListener } = {},
): ConnectionTracker {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = requestTimeoutMs(limits);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const tracked = new TrackedConnections(limits, options.tls === true, options.onRefused);
  // Beyond maxConnections Node destroys the socket itself and says so here.
  server.on('drop', (data?: { remoteAddress?: string }) =>
    tracked.refuse('max-connections', data?.remoteAddress ?? ''),
  );
  server.on('connection', (socket: Socket) => tracked.accept(socket));
  if (options.tls) server.on('secureConnection', (socket: Socket) => tracked.handshaken(socket));
  server.on('request', (req: { socket: Socket }, res: Response) => tracked.request(req.socket, res));
  return tracked;
}
