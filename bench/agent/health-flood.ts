// A bounded flood of idle connections against the agent's /healthz port: every 250 ms it tops the number
// of open connections up to the server's cap plus `extra`, sends nothing on them, and counts how each one
// ended: refused (the server dropped it at once: over its cap) or closed by the server's idle timeout.
import net from 'node:net';
import { sleep } from '../lib/proc.js';

export interface FloodCounts {
  /** Connections made (TCP handshake completed). */
  opened: number;
  /** Closed by the server within 200 ms of opening: over the cap. */
  refused: number;
  /** Closed by the server later: held idle until its idle timeout. */
  idleClosed: number;
  /** Most connections this side held open at once. */
  maxOpen: number;
}

const TOP_UP_MS = 250;
/** Bound on connections made over a whole run (the bench's runs are minutes long). */
const MAX_CONNECTIONS_MADE = 20_000;
const REFUSED_WITHIN_MS = 200;

export async function floodHealth(port: number, target: number, stop: AbortSignal): Promise<FloodCounts> {
  const counts: FloodCounts = { opened: 0, refused: 0, idleClosed: 0, maxOpen: 0 };
  const open = new Set<net.Socket>();
  let made = 0;
  const connect = () => {
    made++;
    const socket = net.connect({ host: '127.0.0.1', port });
    let connectedAt = 0;
    open.add(socket);
    counts.maxOpen = Math.max(counts.maxOpen, open.size);
    socket.on('connect', () => {
      connectedAt = performance.now();
      counts.opened++;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(socket);
      if (connectedAt === 0 || stop.aborted) return;
      if (performance.now() - connectedAt < REFUSED_WITHIN_MS) counts.refused++;
      else counts.idleClosed++;
    });
  };
  while (!stop.aborted && made < MAX_CONNECTIONS_MADE) {
    while (open.size < target && made < MAX_CONNECTIONS_MADE) connect();
    await sleep(TOP_UP_MS);
  }
  for (const socket of open) socket.destroy();
  return counts;
}
