// Refusals are cheap to log: each at debug, and at info one summary per window (default a minute) with the
// counts by reason — a flood of forged tokens (the TokenReview authenticator) or of bad reports (the reports
// route) costs one info line a minute, not one per request. The summary timer runs only while there is
// something to report, and never holds the process.
import type { StructuredLogger } from '../contracts.js';
import type { AuthMetrics } from './auth-metrics.js';

export const REFUSAL_SUMMARY_MS = 60_000;

export interface RefusalLogOptions {
  logger?: StructuredLogger | undefined;
  metrics?: AuthMetrics | undefined;
  windowMs?: number;
  /** The log messages of one refusal (debug) and of the summary (info); default those of agent tokens. */
  messages?: { each: string; summary: string };
}

const TOKEN_MESSAGES = { each: 'agent token refused', summary: 'agent tokens refused (summary)' };

export class RefusalLog {
  private readonly logger: StructuredLogger | undefined;
  private readonly metrics: AuthMetrics | undefined;
  private readonly windowMs: number;
  private readonly messages: { each: string; summary: string };
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: RefusalLogOptions = {}) {
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.windowMs = options.windowMs ?? REFUSAL_SUMMARY_MS;
    this.messages = options.messages ?? TOKEN_MESSAGES;
  }

  /**
   * One refusal: `reason` is a short label (metrics, summary), `message` what the client is told, `fields`
   * more context for the debug line.
   */
  refused(reason: string, status: number, message: string, fields: object = {}): void {
    this.logger?.debug({ ...fields, reason, status, message }, this.messages.each);
    this.metrics?.verifications.inc({ result: reason });
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (this.logger && this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      this.timer.unref();
    }
  }

  /** Logs the summary of the refusals counted so far (if any) and starts a new window. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const refused = Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    this.counts = new Map();
    this.logger?.info(
      { refused, total, windowSeconds: Math.round(this.windowMs / 1000) },
      this.messages.summary,
    );
  }
}
