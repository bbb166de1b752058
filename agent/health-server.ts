// The agent's GET /healthz endpoint. The agent runs on the host network, so whatever this listens on is
// reachable by every pod that can reach the node unless it is bound to loopback (the default). Whatever the
// address, it stays cheap under any number of connections: at most HEALTH_MAX_CONNECTIONS at once, and every
// connection is closed within a few seconds whether or not it sends anything, so idle sockets never pile up
// in the agent's small heap. At the cap a new connection pushes out the oldest one with no request in
// progress (not the newcomer), so a local process holding idle sockets cannot keep the kubelet's liveness
// probe out and get the agent restarted.
import type http from 'node:http';
import type { Socket } from 'node:net';
import { formatDuration } from '../report/duration.js';
import { http as nodeHttp } from './node-http.js';
import type { Reporter } from './reporter.js';

/** The kubelet's probe needs one connection; a few spare for an operator's curl. */
export const HEALTH_MAX_CONNECTIONS = 16;
/** Whole request (headers included) within this, or the connection is closed. */
export const HEALTH_REQUEST_TIMEOUT_MS = 3000;
/** A socket with no traffic for this long is closed (before or between requests). */
export const HEALTH_IDLE_TIMEOUT_MS = 2000;
const HEALTH_KEEP_ALIVE_MS = 1000;
/** How often Node checks connections against the header and request timeouts. */
const HEALTH_CHECK_INTERVAL_MS = 1000;

/**
 * GET /healthz: 200 while the loop is alive (a probe finished within 3 intervals + 2 minutes of the
 * last one, or of the start), 503 otherwise, so the kubelet restarts a wedged agent. An unreachable
 * aggregator does not make the agent unhealthy: restarting would not help.
 */
export async function startHealthServer(
  listen: { host: string; port: number },
  reporter: Reporter,
  intervalMs: number,
): Promise<http.Server> {
  const limitMs = 3 * intervalMs + 120_000;
  const server = nodeHttp.createServer(
    {
      headersTimeout: HEALTH_REQUEST_TIMEOUT_MS,
      requestTimeout: HEALTH_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: HEALTH_KEEP_ALIVE_MS,
      connectionsCheckingInterval: HEALTH_CHECK_INTERVAL_MS,
      maxHeaderSize: 4096,
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/healthz') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const status = reporter.status();
      const sinceMs = Date.now() - (status.lastProbeAt ?? status.startedAt);
      const healthy = sinceMs < limitMs;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(
        `${JSON.stringify({
          status: healthy ? 'ok' : `no probe finished for ${formatDuration(sinceMs)}`,
          delivery: status.state,
          lastProbeAt: status.lastProbeAt === null ? null : new Date(status.lastProbeAt).toISOString(),
          lastAcceptedAt:
            status.lastAcceptedAt === null ? null : new Date(status.lastAcceptedAt).toISOString(),
          pending: status.pending,
        })}\n`,
      );
    },
  );
  capConnections(server, HEALTH_MAX_CONNECTIONS);
  // A connection that never sends a byte is not seen by the header timeout until it sends one.
  server.setTimeout(HEALTH_IDLE_TIMEOUT_MS, (socket) => socket.destroy());
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Keeps at most `cap` connections. Beyond it, the oldest connection that has no request in progress is
 * destroyed to make room; only when every one is mid-request is the newcomer destroyed instead.
 */
export function capConnections(server: http.Server, cap: number): void {
  const open = new Set<Socket>(); // insertion order = age
  const busy = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    socket.once('close', () => open.delete(socket));
    open.add(socket);
    if (open.size <= cap) return;
    let victim: Socket = socket;
    for (const s of open) {
      if (s !== socket && !busy.has(s)) {
        victim = s;
        break;
      }
    }
    open.delete(victim);
    victim.destroy();
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    busy.add(req.socket);
    res.once('close', () => busy.delete(req.socket));
  });
}
