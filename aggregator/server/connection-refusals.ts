// Connections closed on accept (connection-limits.ts) are counted in
// osmo_validator_connections_refused_total{reason} and logged cheaply: each at debug, and at info one
// summary per window (default a minute) with the counts by reason and the addresses refused most — a flood
// of thousands of connections costs one info line a minute. The timer runs only while there is something
// to report and never holds the process (the same shape as auth/refusal-log.ts for tokens).
import type { Counter } from 'prom-client';
import type { StructuredLogger } from '../contracts.js';
import type { ConnectionRefusalReason } from './connection-limits.js';

export const CONNECTION_REFUSAL_SUMMARY_MS = 60_000;
/** Addresses named in a summary, the most refused first (the rest only counted). */
const TOP_ADDRESSES = 5;
/** Distinct addresses counted per window: a flood from many addresses cannot grow the map past this. */
const MAX_ADDRESSES = 1000;

export class ConnectionRefusals {
  private reasons = new Map<ConnectionRefusalReason, number>();
  private addresses = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      logger?: StructuredLogger | undefined;
      counter?: Counter<'reason'> | undefined;
      windowMs?: number;
    } = {},
  ) {}

  refused(reason: ConnectionRefusalReason, address: string): void {
    this.options.counter?.inc({ reason });
    const { logger } = this.options;
    if (!logger) return;
    logger.debug({ reason, address }, 'connection refused');
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    const known = this.addresses.get(address);
    if (known !== undefined || this.addresses.size < MAX_ADDRESSES) {
      this.addresses.set(address, (known ?? 0) + 1);
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.windowMs());
      this.timer.unref();
    }
  }

  /** Logs the summary of the refusals counted so far (if any) and starts a new window. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.reasons.size === 0) return;
    const refused = Object.fromEntries(this.reasons);
    const total = [...this.reasons.values()].reduce((a, b) => a + b, 0);
    const top = Object.fromEntries([...this.addresses].sort((a, b) => b[1] - a[1]).slice(0, TOP_ADDRESSES));
    this.reasons = new Map();
    this.addresses = new Map();
    this.options.logger?.info(
      { refused, total, topAddresses: top, windowSeconds: Math.round(this.windowMs() / 1000) },
      'connections refused (summary): raise --max-connections / --max-connections-per-client if these are agents',
    );
  }

  private windowMs(): number {
    return this.options.windowMs ?? CONNECTION_REFUSAL_SUMMARY_MS;
  }
}
