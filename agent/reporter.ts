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
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const { log } = deps;
  const jitter = options.jitterRatio ?? DEFAULT_JITTER_RATIO;
  const base = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const cap = options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;

  const abort = new AbortController();
  let started = false;
  let stopped = false;
  let probeTimer: NodeJS.Timeout | null = null;
  let sendTimer: NodeJS.Timeout | null = null;
  let probing: Promise<void> | null = null;
  let sending: Promise<void> | null = null;
  let pending: Pending | null = null;
  /** The last accepted report's fingerprint and time: all that is kept of past reports. */
  let last: { fp: Fingerprint; at: number } | null = null;
  let failures = 0;
  let state: DeliveryState = 'ok';
  const loggedMessages = new Set<string>();
  const stats = {
    startedAt: now(),
    probes: 0,
    sendAttempts: 0,
    accepted: 0,
    lastProbeAt: null as number | null,
  };

  const needsSend = (fp: Fingerprint): boolean =>
    last === null || fingerprintChanged(last.fp, fp) || now() - last.at >= options.heartbeatMs;

  const scheduleProbe = (delayMs: number) => {
    if (stopped) return;
    probeTimer = setTimeout(() => {
      probeTimer = null;
      probing = probeOnce().finally(() => {
        probing = null;
      });
    }, delayMs);
  };

  const scheduleSend = (delayMs: number) => {
    if (stopped) return;
    if (sendTimer !== null) clearTimeout(sendTimer);
    sendTimer = setTimeout(() => {
      sendTimer = null;
      startSend();
    }, delayMs);
  };

  const startSend = () => {
    // A scheduled retry owns the next attempt: starting one now would skip the backoff.
    if (stopped || sending !== null || sendTimer !== null || pending === null) return;
    const next = pending;
    pending = null;
    sending = deliver(next).finally(() => {
      sending = null;
      // A report queued while this one was in flight goes now, not one interval later.
      startSend();
    });
  };

  const rememberOnce = (message: string): boolean => {
    if (loggedMessages.has(message)) return false;
    if (loggedMessages.size >= MAX_REMEMBERED_MESSAGES) {
      const oldest = loggedMessages.values().next().value;
      if (oldest !== undefined) loggedMessages.delete(oldest);
    }
    loggedMessages.add(message);
    return true;
  };

  async function probeOnce(): Promise<void> {
    let report: Report;
    try {
      report = await deps.collect(abort.signal);
    } catch (e) {
      if (stopped) return;
      log.error('probing the host failed; next attempt at the next interval', { error: e });
      scheduleProbe(jitteredInterval(options.intervalMs, jitter, random));
      return;
    }
    if (stopped) return;
    stats.probes++;
    stats.lastProbeAt = now();
    const fp = fingerprint(report.facts, report.probeErrors);
    if (sendTimer !== null) {
      // Waiting to retry: the newest report replaces the pending one.
      pending = { report, fp };
    } else if (sending !== null) {
      // In flight: keep this one only if it still needs sending once the in-flight one is accepted.
      if (pending !== null || needsSend(fp)) pending = { report, fp };
    } else if (needsSend(fp)) {
      pending = { report, fp };
      startSend();
    } else {
      log.debug('facts unchanged; nothing to send', { probes: stats.probes });
    }
    scheduleProbe(jitteredInterval(options.intervalMs, jitter, random));
  }

  async function deliver(item: Pending): Promise<void> {
    stats.sendAttempts++;
    let result: SendResult;
    try {
      result = await deps.send(item.report, abort.signal);
    } catch (e) {
      result = { kind: 'unavailable', reason: errorMessage(e) };
    }
    if (stopped) return;
    // A newer report that arrived meanwhile wins over the one just tried.
    const requeue = () => {
      if (pending === null) pending = item;
    };
    switch (result.kind) {
      case 'accepted': {
        if (state === 'unavailable') log.info(`aggregator reachable again after ${failures + 1} attempts`);
        else if (state !== 'ok') log.info('aggregator accepted the report again', { status: result.status });
        else log.debug('report accepted', { status: result.status });
        state = 'ok';
        failures = 0;
        loggedMessages.clear();
        stats.accepted++;
        last = { fp: item.fp, at: now() };
        // What is left pending is sent as soon as this attempt has settled (startSend's finally).
        if (pending !== null && !needsSend(pending.fp)) pending = null;
        return;
      }
      case 'unavailable': {
        failures++;
        if (state !== 'unavailable') {
          log.warn(`aggregator unreachable: ${result.reason}; retrying with backoff`, {
            ...(result.status !== undefined ? { status: result.status } : {}),
          });
          state = 'unavailable';
        } else {
          log.debug('retry failed', { reason: result.reason, attempt: failures });
        }
        requeue();
        scheduleSend(Math.max(backoffDelay(failures, base, cap, random), result.retryAfterMs ?? 0));
        return;
      }
      case 'rejected': {
        failures++;
        if (rememberOnce(result.message)) {
          log.error(
            `aggregator rejected the report: ${result.message}; next attempt in ${formatDuration(options.heartbeatMs)}`,
            { status: result.status },
          );
        }
        state = 'rejected';
        requeue();
        // Resending at once would only hammer the server; the token is re-read on the next attempt.
        scheduleSend(options.heartbeatMs);
        return;
      }
      case 'local-error': {
        failures++;
        if (rememberOnce(result.message)) log.error(`${result.message}; will retry`);
        state = 'local-error';
        requeue();
        scheduleSend(backoffDelay(failures, base, cap, random));
        return;
      }
    }
  }

  return {
    start() {
      if (started) return;
      started = true;
      log.info('agent started', {
        interval: formatDuration(options.intervalMs),
        heartbeat: formatDuration(options.heartbeatMs),
      });
      scheduleProbe(0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (probeTimer !== null) clearTimeout(probeTimer);
      if (sendTimer !== null) clearTimeout(sendTimer);
      probeTimer = null;
      sendTimer = null;
      abort.abort();
      await Promise.allSettled([probing, sending].filter((p) => p !== null));
      pending = null;
    },
    status() {
      return {
        ...stats,
        lastAcceptedAt: last?.at ?? null,
        pending: pending !== null || sending !== null,
        consecutiveFailures: failures,
        state,
      };
    },
  };
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
