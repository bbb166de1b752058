// Bounded soak: 1,000 simulated agents report over loopback HTTP to the aggregator (127.0.0.1), which
// reconciles into the Kubernetes API emulator through the real client, for a fixed number of rounds while
// faults are injected at random from a seeded PRNG (500s, 429s, 409s, slow answers, dropped and stalled
// watches, agent-side timeouts). At the end every node's labels, taint and condition must match the last
// verdict it reported. Figures are printed and written to test/soak/last-run.json (not committed).
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pLimit from 'p-limit';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeStore } from '../../aggregator/store.js';
import type { Verdict } from '../../report/schema.js';
import { makeNode } from '../../testing/k8s-emulator/index.js';
import { fakeEvaluator, makeApp, sampleReport, TOKEN } from '../aggregator/harness.js';
import {
  labels,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
} from '../aggregator/reconcile/k8s-setup.js';

const SEED = 0x5eed;
const AGENTS = 1000;
const ROUNDS = 10;
const CONCURRENCY = 64;
const FLIP_PROBABILITY = 0.25;
const AGENT_TIMEOUT_PROBABILITY = 0.01;
const MAX_SEND_ATTEMPTS = 6;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Figures {
  seed: number;
  agents: number;
  rounds: number;
  reportsSent: number;
  reportsAccepted: number;
  agentErrors: Record<string, number>;
  faultsInjected: Record<string, number>;
  apiRequests: number;
  apiWrites: number;
  heapUsedMiB: { start: number; end: number };
  rssMiB: { start: number; end: number };
  durationMs: number;
  converged: number;
}

// A collectable heap for honest start/end figures without changing the soak config's node flags.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

describe('soak (bounded)', () => {
  it(`${AGENTS} agents × ${ROUNDS} rounds under seeded faults converge`, async () => {
    const started = Date.now();
    const random = prng(SEED);
    const nodeName = (i: number) => `soak-${String(i).padStart(4, '0')}`;
    const emu = await startEmulator(
      Array.from({ length: AGENTS }, (_, i) =>
        makeNode(nodeName(i), {
          labels: { 'node-type': i % 4 === 0 ? 'compute' : 'gpu', rack: `r${i % 20}` },
        }),
      ),
    );
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu, {
      maxTaintedPercent: 100,
      qps: 5000,
      burst: 5000,
      concurrency: 16,
      backoffBaseMs: 20,
      watchdogMs: 2000,
    });
    cleanup.push(() => integration.stop());

    // What each agent currently reports, and the last verdict the aggregator accepted from it.
    const current = new Map<string, Verdict>();
    const accepted = new Map<string, Verdict>();
    const store = new NodeStore({
      staleAfterMs: 3_600_000,
      sink: integration.sink,
      cluster: integration.cluster,
    });
    const t = await makeApp({
      evaluator: fakeEvaluator((node) => current.get(node) ?? 'pass'),
      kubernetes: integration,
      store,
    });
    cleanup.push(() => t.app.close());
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    cleanup.push(async () => agent.destroy());

    gc();
    const heapStart = process.memoryUsage();
    const figures: Figures = {
      seed: SEED,
      agents: AGENTS,
      rounds: ROUNDS,
      reportsSent: 0,
      reportsAccepted: 0,
      agentErrors: {},
      faultsInjected: {},
      apiRequests: 0,
      apiWrites: 0,
      heapUsedMiB: { start: mib(heapStart.heapUsed), end: 0 },
      rssMiB: { start: mib(heapStart.rss), end: 0 },
      durationMs: 0,
      converged: 0,
    };
    const countError = (kind: string) => {
      figures.agentErrors[kind] = (figures.agentErrors[kind] ?? 0) + 1;
    };
    const countFault = (kind: string) => {
      figures.faultsInjected[kind] = (figures.faultsInjected[kind] ?? 0) + 1;
    };

    /** One POST; resolves with the status, or a string naming the transport error. */
    function post(body: string, timeoutMs: number): Promise<number | string> {
      return new Promise((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/v1/reports',
            agent,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error('agent timeout')));
        req.on('error', (e) => resolve(e.message === 'agent timeout' ? 'timeout' : 'transport'));
        req.end(body);
      });
    }

    /** An agent's send with bounded retries, as the reporter does (the same body until it is accepted). */
    async function report(i: number, timeoutFirst: boolean): Promise<void> {
      const node = nodeName(i);
      const verdict = current.get(node) ?? 'pass';
      const r = sampleReport(node);
      r.facts.memory = { totalBytes: verdict === 'fail' ? 1024 : 64 * 1024 ** 3 };
      const body = JSON.stringify(r);
      for (let attempt = 0; attempt < MAX_SEND_ATTEMPTS; attempt++) {
        figures.reportsSent++;
        // An agent-side timeout so short the answer cannot arrive in time: the server may still accept it.
        const status = await post(body, attempt === 0 && timeoutFirst ? 1 : 10_000);
        if (status === 202) {
          figures.reportsAccepted++;
          accepted.set(node, verdict);
          return;
        }
        countError(String(status));
      }
    }

    function injectRoundFaults(): void {
      const n = (max: number) => 1 + Math.floor(random() * max);
      // Each fault is present in most rounds, hitting up to tens of requests.
      if (random() < 0.8) {
        emu.inject({ method: 'PATCH', path: /^\/api\/v1\/nodes\/[^/]+$/, status: 500, times: n(50) });
        countFault('500 on node patch');
      }
      if (random() < 0.4) {
        emu.inject({ method: 'PATCH', path: /\/status$/, status: 503, times: n(30) });
        countFault('503 on status patch');
      }
      if (random() < 0.5) {
        emu.inject({
          path: /^\/api\/v1\/nodes\//,
          status: 429,
          retryAfterSeconds: random() < 0.5 ? 0 : 1,
          times: n(30),
        });
        countFault('429 with Retry-After');
      }
      if (random() < 0.6) {
        emu.conflictOnFirstTry(n(60));
        countFault('409 conflict');
      }
      if (random() < 0.5) {
        emu.inject({ method: 'PATCH', delayMs: 50 + Math.floor(random() * 400), times: n(60) });
        countFault('slow answer');
      }
      if (random() < 0.3) {
        emu.inject({ method: 'POST', path: /\/events$/, status: 500, times: n(10) });
        countFault('500 on event');
      }
      if (random() < 0.3) {
        emu.dropWatches({ abrupt: random() < 0.5 });
        countFault('dropped watch');
      }
      if (random() < 0.2) {
        emu.stallWatches();
        countFault('stalled watch');
      }
    }

    const limit = pLimit(CONCURRENCY);
    for (let round = 0; round < ROUNDS; round++) {
      injectRoundFaults();
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < AGENTS; i++) {
        const node = nodeName(i);
        if (round === 0 || random() < FLIP_PROBABILITY) {
          current.set(node, random() < 0.3 ? 'fail' : random() < 0.2 ? 'warn' : 'pass');
        }
        // Every agent reports every round: a change, or its heartbeat with the same verdict.
        const timeoutFirst = random() < AGENT_TIMEOUT_PROBABILITY;
        if (timeoutFirst) countFault('agent-side timeout');
        sends.push(limit(() => report(i, timeoutFirst)));
      }
      await Promise.all(sends);
    }
    emu.clearFaults();
    await integration.idle(120_000);

    // Convergence: the cluster says what each node last reported (warn counts as conformant).
    const wrong: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const node = nodeName(i);
      const verdict = accepted.get(node);
      const fail = verdict === 'fail';
      const l = labels(emu, node);
      const ok =
        verdict !== undefined &&
        l[names.labels.conformant] === (fail ? 'false' : 'true') &&
        l['rack'] === `r${i % 20}` &&
        taints(emu, node).some((x) => x.key === names.taintKey) === fail &&
        ourCondition(emu, node)?.status === (fail ? 'True' : 'False');
      if (ok) figures.converged++;
      else wrong.push(`${node}: reported ${verdict}, labels ${JSON.stringify(l)}`);
    }

    gc();
    const end = process.memoryUsage();
    figures.heapUsedMiB.end = mib(end.heapUsed);
    figures.rssMiB.end = mib(end.rss);
    figures.apiRequests = emu.requests.length;
    figures.apiWrites = emu.writes();
    figures.durationMs = Date.now() - started;
    console.log(`soak figures:\n${JSON.stringify(figures, null, 2)}`);
    writeFileSync(
      fileURLToPath(new URL('./last-run.json', import.meta.url)),
      `${JSON.stringify(figures, null, 2)}\n`,
    );

    expect(wrong.slice(0, 10)).toEqual([]);
    expect(figures.converged).toBe(AGENTS);
    expect(t.store.size()).toBe(AGENTS);
    // The process is alive and serving.
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // No unbounded growth: the change log is capped and the heap stays within a generous bound.
    expect(integration.changes().length).toBeLessThanOrEqual(1000);
    expect(end.heapUsed - heapStart.heapUsed).toBeLessThan(128 * 1024 * 1024);
  });
});
