// The agent's loop, free of I/O so it can be tested with fake timers: probe every interval (±jitter),
// send when the facts changed or the heartbeat is due, and when the aggregator is unavailable back off
// exponentially with full jitter while keeping only the newest report (a newer probe replaces the pending
// one: memory stays bounded however long the outage). Logs one line per state change, not per retry.

import { formatDuration } from '../report/duration.js';
import { errorMessage } from '../report/error-message.js';
import type { Report } from '../report/schema.js';
import { type Fingerprint, fingerprint, fingerprintChanged } from './fingerprint.js';
import type { Logger } from './log.js';
import type { SendFn, SendResult } from './sender.js';

export interface ReporterDeps {
  /** Probes the host and builds a report; may throw (logged, next probe as scheduled). */
  collect(signal: AbortSignal): Promise<Report>;
  send: SendFn;
  log: Logger;
  now?: () => number;
  random?: () => number;
}

export interface ReporterOptions {
  intervalMs: number;
  heartbeatMs: number;
  /** ± fraction of the interval; default 0.1. */
  jitterRatio?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export type DeliveryState = 'ok' | 'unavailable' | 'rejected' | 'local-error';

export interface ReporterStatus {
  startedAt: number;
  probes: number;
  sendAttempts: number;
  accepted: number;
  lastProbeAt: number | null;
  lastAcceptedAt: number | null;
  /** Whether a report waits for delivery or is being delivered (at most one is ever kept waiting). */
  pending: boolean;
  consecutiveFailures: number;
  state: DeliveryState;
}

export interface Reporter {
  start(): void;
  /** Stops the loop, aborts an in-flight probe or send, resolves when both have settled. */
  stop(): Promise<void>;
  status(): ReporterStatus;
}

export const DEFAULT_JITTER_RATIO = 0.1;
export const DEFAULT_BACKOFF_BASE_MS = 1000;
export const DEFAULT_BACKOFF_CAP_MS = 5 * 60_000;
/** How many distinct rejection messages are remembered (to log each once) before the oldest is dropped. */
const MAX_REMEMBERED_MESSAGES = 16;

/** Full jitter: uniform in [0, min(cap, base·2^(attempt-1))). attempt starts at 1. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.floor(random() * exp);
}

/** interval · (1 ± ratio), uniform. */
export function jitteredInterval(intervalMs: number, ratio: number, random: () => number): number {
  return Math.round(intervalMs * (1 + ratio * (2 * random() - 1)));
}

interface Pending {
  report: Report;
  fp: Fingerprint;
}

export function createReporter(deps: ReporterDeps, options: ReporterOptions): Reporter {
  return new ReporterLoop(deps, options);
}

/** The loop's state and its steps: probe → maybe send → on failure back off, keeping only the newest. */
class ReporterLoop implements Reporter {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly jitter: number;
  private readonly base: number;
  private readonly cap: number;
  private readonly abort = new AbortController();
  private started = false;
  private stopped = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;
  private sending: Promise<void> | null = null;
  private pending: Pending | null = null;
  /** The last accepted report's fingerprint and time: all that is kept of past reports. */
  private last: { fp: Fingerprint; at: number } | null = null;
  private failures = 0;
  private state: DeliveryState = 'ok';
  private readonly loggedMessages = new Set<string>();
  private readonly stats: {
    startedAt: number;
    probes: number;
    sendAttempts: number;
    accepted: number;
    lastProbeAt: number | null;
  };

  private readonly deps: ReporterDeps;
  private readonly options: ReporterOptions;

  constructor(deps: ReporterDeps, options: ReporterOptions) {
    this.deps = deps;
    this.options = options;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.log = deps.log;
    this.jitter = options.jitterRatio ?? DEFAULT_JITTER_RATIO;
    this.base = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.cap = options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;
    this.stats = { startedAt: this.now(), probes: 0, sendAttempts: 0, accepted: 0, lastProbeAt: null };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.log.info('agent started', {
      interval: formatDuration(this.options.intervalMs),
      heartbeat: formatDuration(this.options.heartbeatMs),
    });
    this.scheduleProbe(0);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    this.probeTimer = null;
    this.sendTimer = null;
    this.abort.abort();
    await Promise.allSettled([this.probing, this.sending].filter((p) => p !== null));
    this.pending = null;
  }

  status(): ReporterStatus {
    return {
      ...this.stats,
      lastAcceptedAt: this.last?.at ?? null,
      pending: this.pending !== null || this.sending !== null,
      consecutiveFailures: this.failures,
      state: this.state,
    };
  }

  private needsSend(fp: Fingerprint): boolean {
    const last = this.last;
    return (
      last === null || fingerprintChanged(last.fp, fp) || this.now() - last.at >= this.options.heartbeatMs
    );
  }

  private nextInterval(): number {
    return jitteredInterval(this.options.intervalMs, this.jitter, this.random);
  }

  private scheduleProbe(delayMs: number): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this.probing = this.probeOnce().finally(() => {
        this.probing = null;
      });
    }, delayMs);
  }

  private scheduleSend(delayMs: number): void {
    if (this.stopped) return;
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null;
      this.startSend();
    }, delayMs);
  }

  private startSend(): void {
    // A scheduled retry owns the next attempt: starting one now would skip the backoff.
    if (this.stopped || this.sending !== null || this.sendTimer !== null || this.pending === null) return;
    const next = this.pending;
    this.pending = null;
    this.sending = this.deliver(next).finally(() => {
      this.sending = null;
      // A report queued while this one was in flight goes now, not one interval later.
      this.startSend();
    });
  }

  private rememberOnce(message: string): boolean {
    const logged = this.loggedMessages;
    if (logged.has(message)) return false;
    if (logged.size >= MAX_REMEMBERED_MESSAGES) {
      const oldest = logged.values().next().value;
      if (oldest !== undefined) logged.delete(oldest);
    }
    logged.add(message);
    return true;
  }

  private async probeOnce(): Promise<void> {
    let report: Report;
    try {
      report = await this.deps.collect(this.abort.signal);
    } catch (e) {
      if (this.stopped) return;
      this.log.error('probing the host failed; next attempt at the next interval', { error: e });
      this.scheduleProbe(this.nextInterval());
      return;
    }
    if (this.stopped) return;
    this.stats.probes++;
    this.stats.lastProbeAt = this.now();
    const fp = fingerprint(report.facts, report.probeErrors);
    if (this.sendTimer !== null) {
      // Waiting to retry: the newest report replaces the pending one.
      this.pending = { report, fp };
    } else if (this.sending !== null) {
      // In flight: keep this one only if it still needs sending once the in-flight one is accepted.
      if (this.pending !== null || this.needsSend(fp)) this.pending = { report, fp };
    } else if (this.needsSend(fp)) {
      this.pending = { report, fp };
      this.startSend();
    } else {
      this.log.debug('facts unchanged; nothing to send', { probes: this.stats.probes });
    }
    this.scheduleProbe(this.nextInterval());
  }

  private async deliver(item: Pending): Promise<void> {
    this.stats.sendAttempts++;
    let result: SendResult;
    try {
      result = await this.deps.send(item.report, this.abort.signal);
    } catch (e) {
      result = { kind: 'unavailable', reason: errorMessage(e) };
    }
    if (this.stopped) return;
    if (result.kind === 'accepted') {
      this.onAccepted(item, result.status);
      return;
    }
    this.failures++;
    // A newer report that arrived meanwhile wins over the one just tried.
    if (this.pending === null) this.pending = item;
    if (result.kind === 'unavailable') this.onUnavailable(result);
    else if (result.kind === 'rejected') this.onRejected(result);
    else this.onLocalError(result.message);
  }

  private onAccepted(item: Pending, status: number): void {
    if (this.state === 'unavailable')
      this.log.info(`aggregator reachable again after ${this.failures + 1} attempts`);
    else if (this.state !== 'ok') this.log.info('aggregator accepted the report again', { status });
    else this.log.debug('report accepted', { status });
    this.state = 'ok';
    this.failures = 0;
    this.loggedMessages.clear();
    this.stats.accepted++;
    this.last = { fp: item.fp, at: this.now() };
    // What is left pending is sent as soon as this attempt has settled (startSend's finally).
    if (this.pending !== null && !this.needsSend(this.pending.fp)) this.pending = null;
  }

  private onUnavailable(result: Extract<SendResult, { kind: 'unavailable' }>): void {
    if (this.state !== 'unavailable') {
      this.log.warn(`aggregator unreachable: ${result.reason}; retrying with backoff`, {
        ...(result.status !== undefined ? { status: result.status } : {}),
      });
      this.state = 'unavailable';
    } else {
      this.log.debug('retry failed', { reason: result.reason, attempt: this.failures });
    }
    const backoff = backoffDelay(this.failures, this.base, this.cap, this.random);
    this.scheduleSend(Math.max(backoff, result.retryAfterMs ?? 0));
  }

  private onRejected(result: Extract<SendResult, { kind: 'rejected' }>): void {
    if (this.rememberOnce(result.message)) {
      this.log.error(
        `aggregator rejected the report: ${result.message}; next attempt in ${formatDuration(this.options.heartbeatMs)}`,
        { status: result.status },
      );
    }
    this.state = 'rejected';
    // Resending at once would only hammer the server; the token is re-read on the next attempt.
    this.scheduleSend(this.options.heartbeatMs);
  }

  private onLocalError(message: string): void {
    if (this.rememberOnce(message)) this.log.error(`${message}; will retry`);
    this.state = 'local-error';
    this.scheduleSend(backoffDelay(this.failures, this.base, this.cap, this.random));
  }
}

export type OnceOutcome = { report: Report; result: SendResult };

/** `--once`: probe, send one report, no retry. */
export async function reportOnce(
  collect: (signal: AbortSignal) => Promise<Report>,
  send: SendFn,
  signal: AbortSignal,
): Promise<OnceOutcome> {
  const report = await collect(signal);
  const result = await send(report, signal);
  return { report, result };
}
