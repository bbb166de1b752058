import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryLogger } from '../../agent/log.js';
import {
  backoffDelay,
  createReporter,
  jitteredInterval,
  type Reporter,
  type ReporterOptions,
} from '../../agent/reporter.js';
import type { SendResult } from '../../agent/sender.js';
import type { Facts, Report } from '../../report/schema.js';
import { GIB, sampleFacts, sampleReport } from './sample.js';

const MIN = 60_000;
const refused: SendResult = { kind: 'unavailable', reason: 'connect ECONNREFUSED 10.0.0.5:8443' };
const ok: SendResult = { kind: 'accepted', status: 202 };

interface Harness {
  reporter: Reporter;
  log: ReturnType<typeof memoryLogger>;
  /** Every send: the time and the report. */
  sends: Array<{ at: number; report: Report }>;
  setFacts(facts: Facts): void;
  /** The next send results; when empty, `fallback` answers. */
  results: SendResult[];
  setFallback(result: SendResult): void;
  probes(): number;
}

function harness(options: Partial<ReporterOptions> = {}, random: () => number = () => 0.5): Harness {
  let facts = sampleFacts();
  let fallback: SendResult = ok;
  let probes = 0;
  const log = memoryLogger('debug');
  const h: Harness = {
    log,
    sends: [],
    results: [],
    setFacts: (f) => {
      facts = f;
    },
    setFallback: (r) => {
      fallback = r;
    },
    probes: () => probes,
    reporter: createReporter(
      {
        collect: async () => {
          probes++;
          // Each report is distinguishable: collectedAt carries the probe number.
          return {
            ...sampleReport(facts),
            collectedAt: new Date(Date.now()).toISOString(),
            agentVersion: `p${probes}`,
          };
        },
        send: async (report) => {
          h.sends.push({ at: Date.now(), report });
          return h.results.shift() ?? fallback;
        },
        log,
        random,
      },
      { intervalMs: MIN, heartbeatMs: 5 * MIN, ...options },
    ),
  };
  return h;
}

const lines = (h: Harness, pattern: RegExp) => h.log.lines.filter((l) => pattern.test(l.msg));

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('jitter and backoff arithmetic', () => {
  it('keeps the interval within ±10%', () => {
    expect(jitteredInterval(60_000, 0.1, () => 0)).toBe(54_000);
    expect(jitteredInterval(60_000, 0.1, () => 0.5)).toBe(60_000);
    expect(jitteredInterval(60_000, 0.1, () => 0.999_999)).toBeLessThanOrEqual(66_000);
    for (let i = 0; i < 200; i++) {
      const d = jitteredInterval(60_000, 0.1, Math.random);
      expect(d).toBeGreaterThanOrEqual(54_000);
      expect(d).toBeLessThanOrEqual(66_000);
    }
  });

  it('grows exponentially from 1s, caps at 5m, full jitter within [0, bound)', () => {
    const upper = (attempt: number) => backoffDelay(attempt, 1000, 300_000, () => 0.999_999);
    expect([1, 2, 3, 4, 5].map(upper)).toEqual([999, 1999, 3999, 7999, 15_999]);
    expect(upper(9)).toBe(255_999);
    expect(upper(10)).toBe(299_999);
    expect(upper(1000)).toBe(299_999);
    expect(backoffDelay(7, 1000, 300_000, () => 0)).toBe(0);
    for (let attempt = 1; attempt < 40; attempt++) {
      const d = backoffDelay(attempt, 1000, 300_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(300_000, 1000 * 2 ** (attempt - 1)));
    }
  });
});

describe('change detection and heartbeat', () => {
  it('sends the first report, then nothing until the heartbeat, then on every change', async () => {
    const h = harness();
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);

    // Four unchanged probes: quiet (only volatile values move).
    for (let i = 1; i <= 4; i++) {
      const f = sampleFacts();
      f.registries = [{ ...f.registries![0]!, latencyMs: 100 + i }];
      f.disks = [{ path: '/', capacityBytes: 500 * GIB, freeBytes: 300 * GIB - i * 100 * 1024 ** 2 }];
      h.setFacts(f);
      await vi.advanceTimersByTimeAsync(MIN);
    }
    expect(h.probes()).toBe(5);
    expect(h.sends).toHaveLength(1);

    // 5 minutes after the accepted send: heartbeat.
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(2);
    expect(h.sends[1]!.at - h.sends[0]!.at).toBe(5 * MIN);

    // A real change goes out at the next probe, not at the heartbeat.
    h.setFacts(sampleFacts({ containerd: { version: '2.0.0', raw: 'containerd v2.0.0' } }));
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(3);
    expect(h.sends[2]!.report.facts.containerd?.version).toBe('2.0.0');
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(3);
    await h.reporter.stop();
  });

  it('a new probe error is a change', async () => {
    const h = harness();
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);
    const report = sampleReport();
    h.setFacts({ ...report.facts, gpu: null });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(1);
    h.setFacts({ ...report.facts, memory: null });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(2);
    await h.reporter.stop();
  });

  it('probes at the jittered interval', async () => {
    const h = harness({}, () => 0); // lower bound: 54 s
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(53_999);
    expect(h.probes()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.probes()).toBe(2);
    await h.reporter.stop();
  });
});

describe('a change while a send is in flight', () => {
  function slowSendReporter(sendMs: number) {
    let facts = sampleFacts();
    const sends: Array<{ at: number; report: Report }> = [];
    const reporter = createReporter(
      {
        collect: async () => ({ ...sampleReport(facts), collectedAt: new Date(Date.now()).toISOString() }),
        send: async (report, signal) => {
          sends.push({ at: Date.now(), report });
          await new Promise((resolve) => {
            const timer = setTimeout(resolve, sendMs);
            signal?.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve(undefined);
            });
          });
          return signal?.aborted ? refused : ok;
        },
        log: memoryLogger(),
        random: () => 0.5,
      },
      { intervalMs: MIN, heartbeatMs: 5 * MIN },
    );
    return { reporter, sends, setFacts: (f: Facts) => (facts = f) };
  }

  it('is sent as soon as the in-flight send completes, not one interval later', async () => {
    // The first send takes 70 s; the probe at 60 s finds a change while it is in flight.
    const h = slowSendReporter(70_000);
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);
    h.setFacts(sampleFacts({ containerd: { version: '2.0.0', raw: 'containerd v2.0.0' } }));
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(1);
    expect(h.reporter.status().pending).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.sends).toHaveLength(2);
    expect(h.sends[1]!.at).toBe(h.sends[0]!.at + 70_000);
    expect(h.sends[1]!.report.facts.containerd?.version).toBe('2.0.0');
    await h.reporter.stop();
  });

  it('reports pending while the only report is in flight', async () => {
    const h = slowSendReporter(5000);
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);
    expect(h.reporter.status().pending).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.reporter.status()).toMatchObject({ pending: false, accepted: 1 });
    // Unchanged facts after the accepted send: nothing queued, nothing sent at the next probe.
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.sends).toHaveLength(1);
    await h.reporter.stop();
  });
});

describe('backoff while the aggregator is down', () => {
  it('retries with growing, capped delays and logs one line per state change', async () => {
    const h = harness({ intervalMs: 60 * MIN, heartbeatMs: 120 * MIN });
    h.setFallback(refused);
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    // random 0.5 → half of each bound: 500, 1000, 2000, ... capped at 150 000.
    await vi.advanceTimersByTimeAsync(30 * MIN);
    const gaps = h.sends.slice(1).map((s, i) => s.at - h.sends[i]!.at);
    expect(gaps.slice(0, 10)).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 150_000,
    ]);
    expect(gaps.slice(10).every((g) => g === 150_000)).toBe(true);
    const attempts = h.sends.length;

    expect(lines(h, /aggregator unreachable/)).toHaveLength(1);
    expect(lines(h, /aggregator unreachable/)[0]!.msg).toBe(
      'aggregator unreachable: connect ECONNREFUSED 10.0.0.5:8443; retrying with backoff',
    );
    expect(h.reporter.status()).toMatchObject({
      state: 'unavailable',
      pending: true,
      consecutiveFailures: attempts,
    });

    h.setFallback(ok);
    await vi.advanceTimersByTimeAsync(150_000);
    expect(h.sends).toHaveLength(attempts + 1);
    expect(lines(h, /reachable again/).map((l) => l.msg)).toEqual([
      `aggregator reachable again after ${attempts + 1} attempts`,
    ]);
    expect(h.reporter.status()).toMatchObject({ state: 'ok', pending: false, consecutiveFailures: 0 });
    // Nothing more until something changes.
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.sends).toHaveLength(attempts + 1);
    await h.reporter.stop();
  });

  it('keeps only the newest report: newer probes replace the pending one', async () => {
    const h = harness();
    h.setFallback(refused);
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    // An hour-long outage: 60 probes, each one different.
    for (let i = 1; i <= 60; i++) {
      h.setFacts(sampleFacts({ memory: { totalBytes: (100 + i) * GIB } }));
      await vi.advanceTimersByTimeAsync(MIN);
      expect(h.reporter.status().pending).toBe(true);
    }
    const before = h.sends.length;
    // Every retry carried the newest report available at that moment, never an older one.
    const probeNumbers = h.sends.map((s) => Number(s.report.agentVersion.slice(1)));
    expect(probeNumbers).toEqual([...probeNumbers].sort((a, b) => a - b));

    h.setFallback(ok);
    await vi.advanceTimersByTimeAsync(5 * MIN);
    const delivered = h.sends.slice(before);
    expect(delivered.length).toBeGreaterThanOrEqual(1);
    expect(delivered.at(-1)!.report.facts.memory?.totalBytes).toBe(160 * GIB);
    expect(h.reporter.status()).toMatchObject({ pending: false, state: 'ok' });
    await h.reporter.stop();
  });

  it('honours Retry-After', async () => {
    const h = harness({ intervalMs: 60 * MIN, heartbeatMs: 120 * MIN });
    h.results.push({ kind: 'unavailable', reason: 'HTTP 429: slow down', status: 429, retryAfterMs: 45_000 });
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(44_999);
    expect(h.sends).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.sends).toHaveLength(2);
    expect(h.reporter.status().state).toBe('ok');
    await h.reporter.stop();
  });

  it('survives a send function that throws', async () => {
    const log = memoryLogger();
    let calls = 0;
    const reporter = createReporter(
      {
        collect: async () => sampleReport(),
        send: async () => {
          calls++;
          if (calls === 1) throw new Error('boom');
          return ok;
        },
        log,
        random: () => 0.5,
      },
      { intervalMs: MIN, heartbeatMs: 5 * MIN },
    );
    reporter.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    expect(reporter.status().state).toBe('ok');
    await reporter.stop();
  });
});

describe('rejections and local errors', () => {
  it('logs each distinct 4xx message once and waits a heartbeat between attempts', async () => {
    const h = harness();
    const unauthorized: SendResult = { kind: 'rejected', status: 401, message: 'HTTP 401: token expired' };
    h.setFallback(unauthorized);
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sends).toHaveLength(1);
    // Probes keep coming every minute but no attempt before the heartbeat interval.
    await vi.advanceTimersByTimeAsync(5 * MIN - 1);
    expect(h.sends).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.sends).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.sends).toHaveLength(4);
    expect(lines(h, /rejected/)).toHaveLength(1);
    expect(lines(h, /rejected/)[0]).toMatchObject({
      level: 'error',
      msg: 'aggregator rejected the report: HTTP 401: token expired; next attempt in 5m',
      status: 401,
    });

    h.setFallback({ kind: 'rejected', status: 403, message: 'HTTP 403: node mismatch' });
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(lines(h, /rejected/)).toHaveLength(2);
    // The retried report is the newest probe's, not the first one.
    expect(Number(h.sends.at(-1)!.report.agentVersion.slice(1))).toBeGreaterThan(15);

    h.setFallback(ok);
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(lines(h, /accepted the report again/)).toHaveLength(1);
    expect(h.reporter.status().state).toBe('ok');
    await h.reporter.stop();
  });

  it('a missing token file is logged once and retried with backoff, never fatal', async () => {
    const h = harness({ intervalMs: 60 * MIN, heartbeatMs: 120 * MIN });
    h.setFallback({ kind: 'local-error', message: 'cannot read token file /var/run/token: ENOENT' });
    h.reporter.start();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.sends.length).toBeGreaterThan(5);
    expect(lines(h, /token file/)).toHaveLength(1);
    expect(lines(h, /token file/)[0]!.msg).toBe('cannot read token file /var/run/token: ENOENT; will retry');
    h.setFallback(ok);
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(h.reporter.status()).toMatchObject({ state: 'ok', pending: false });
    await h.reporter.stop();
  });
});

describe('probing failures and stop', () => {
  it('logs a failed probe run and tries again at the next interval', async () => {
    const log = memoryLogger();
    let calls = 0;
    const reporter = createReporter(
      {
        collect: async () => {
          calls++;
          if (calls === 1) throw new Error('host root vanished');
          return sampleReport();
        },
        send: async () => ok,
        log,
        random: () => 0.5,
      },
      { intervalMs: MIN, heartbeatMs: 5 * MIN },
    );
    reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(MIN);
    expect(calls).toBe(2);
    expect(reporter.status().accepted).toBe(1);
    await reporter.stop();
  });

  it('stop aborts an in-flight send and schedules nothing more', async () => {
    const log = memoryLogger();
    let aborted = false;
    let collects = 0;
    const reporter = createReporter(
      {
        collect: async () => {
          collects++;
          return sampleReport();
        },
        send: (_report, signal) =>
          new Promise<SendResult>((resolve) => {
            signal?.addEventListener('abort', () => {
              aborted = true;
              resolve({ kind: 'unavailable', reason: 'aborted' });
            });
          }),
        log,
      },
      { intervalMs: MIN, heartbeatMs: 5 * MIN },
    );
    reporter.start();
    await vi.advanceTimersByTimeAsync(0);
    await reporter.stop();
    expect(aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(60 * MIN);
    expect(collects).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
