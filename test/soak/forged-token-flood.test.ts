// Bounded soak: a flood of forged tokens against the `aggregator` command (TokenReview against the API
// emulator, shipped budgets, loopback HTTP on 127.0.0.1) while 200 agents send reports with fresh tokens
// (3 rounds: every report needs a TokenReview). Two phases: the issuer's keys unavailable (the fallback:
// every token goes to TokenReview under the shared budget, as before local verification), then available.
// With the keys every genuine report must be accepted at its first attempt and no forged token may cost
// an API call. Figures are printed and written to test/soak/last-forged-flood.json (not committed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { run } from '../../aggregator/aggregator-command.js';
import { type K8sEmulatorOptions, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { sampleReport } from '../aggregator/harness.js';
import { type FloodJob, flood, forgeLike } from '../helpers/report-flood.js';

const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
const AUD = 'osmo-node-validator';
const AGENTS = 200;
const ROUNDS = 3;
const FORGED = 20_000;
const WORKERS = 32;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

interface PhaseFigures {
  localVerification: boolean;
  forgedSent: number;
  forgedPerSecond: number;
  forgedAnswers: Record<string, number>;
  genuineSent: number;
  genuineAccepted: number;
  genuineAnswers: Record<string, number>;
  genuineLatencyMs: { p50: number; p99: number; max: number };
  tokenReviews: number;
  jwksFetches: number;
  infoLogLines: number;
  rssMiB: { start: number; end: number };
  heapUsedMiB: { start: number; end: number };
  durationMs: number;
}

/** The flood: forgeries of four kinds, the genuine agents' reports spread evenly among them. */
function jobs(genuine: Array<{ node: string; token: string }>, replayable: string): FloodJob[] {
  const forgedBody = JSON.stringify(sampleReport('victim'));
  const header = (kid: string) => Buffer.from(JSON.stringify({ alg: 'RS256', kid })).toString('base64url');
  const forged = (i: number): string => {
    const good = forgeLike(replayable, i);
    switch (i % 10) {
      case 0: // a key ID the issuer never had
        return `${header(`forged-${i}`)}.${good.split('.').slice(1).join('.')}`;
      case 1: // not a JWT at all
        return `garbage-${i}`;
      case 2: // a genuine token of another node, replayed for the victim
        return replayable;
      default: // the issuer's kid and genuine-looking claims, a made-up signature
        return good;
    }
  };
  const out: FloodJob[] = [];
  const every = Math.floor(FORGED / genuine.length);
  for (let i = 0; i < FORGED; i++) {
    if (i % every === every - 1) {
      const g = genuine[Math.floor(i / every)];
      if (g) out.push({ token: g.token, body: JSON.stringify(sampleReport(g.node)), genuine: true });
    }
    out.push({ token: forged(i), body: forgedBody, genuine: false });
  }
  return out;
}

const tally = (values: number[]) =>
  values.reduce<Record<string, number>>((acc, v) => {
    acc[String(v)] = (acc[String(v)] ?? 0) + 1;
    return acc;
  }, {});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10
  );
}

async function phase(emulatorOptions: K8sEmulatorOptions): Promise<PhaseFigures> {
  const emu = await startK8sEmulator({ maxLogEntries: 100_000, ...emulatorOptions });
  const dir = mkdtempSync(join(tmpdir(), 'onv-forged-soak-'));
  try {
    const nodes = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i).padStart(3, '0')}`);
    emu.nodes.putMany(nodes.map((n) => makeNode(n)));
    // Every report of every round comes with a token the aggregator has not seen (restarts, rotation).
    const genuine = Array.from({ length: ROUNDS }, () => nodes)
      .flat()
      .map((node) => ({
        node,
        token: emu.tokens.issue({ serviceAccount: SA, audiences: [AUD], nodeName: node }),
      }));
    const replayable = emu.tokens.issue({ serviceAccount: SA, audiences: [AUD], nodeName: 'agent-replayed' });
    const list = jobs(genuine, replayable);
    const kubeconfig = await emu.writeKubeconfigFile(dir);
    let infoLogLines = 0;
    const logStream = new Writable({
      write(chunk, _e, cb) {
        infoLogLines += (String(chunk).match(/"level":30/g) ?? []).length;
        cb();
      },
    });
    const stop = new AbortController();
    let failure: unknown;
    let result: Awaited<ReturnType<typeof flood>> | undefined;
    let figures: Partial<PhaseFigures> = {};
    const code = await run(
      ['--insecure-http', '--listen', '127.0.0.1:0', '--kubeconfig', kubeconfig, '--dry-run'],
      {
        env: {},
        signal: stop.signal,
        stderr: () => {},
        logStream,
        onListening: (url) => {
          const body = async () => {
            for (let i = 0; i < 200 && (await fetch(`${url}/readyz`)).status !== 200; i++) {
              await new Promise((r) => setTimeout(r, 50));
            }
            gc();
            const start = process.memoryUsage();
            emu.reset();
            emu.tokens.reviews.length = 0;
            infoLogLines = 0;
            result = await flood(url, list, WORKERS);
            gc();
            const end = process.memoryUsage();
            figures = {
              rssMiB: { start: mib(start.rss), end: mib(end.rss) },
              heapUsedMiB: { start: mib(start.heapUsed), end: mib(end.heapUsed) },
              tokenReviews: emu.tokens.reviews.length,
              jwksFetches: emu.requestsBy('GET', '/openid/v1/jwks').length,
              infoLogLines,
            };
          };
          body().then(
            () => stop.abort(),
            (err: unknown) => {
              failure = err;
              stop.abort();
            },
          );
        },
      },
    );
    if (failure) throw failure;
    expect(code).toBe(0);
    const { statuses, latenciesMs, durationMs } = result!;
    const pick = (genuineJobs: boolean, of: number[]) =>
      list.flatMap((j, i) => (j.genuine === genuineJobs ? [of[i]!] : []));
    const genuineStatuses = pick(true, statuses);
    const genuineLatencies = pick(true, latenciesMs);
    return {
      localVerification: emulatorOptions.issuerDiscovery !== false,
      forgedSent: FORGED,
      forgedPerSecond: Math.round((list.length / durationMs) * 1000),
      forgedAnswers: tally(pick(false, statuses)),
      genuineSent: genuineStatuses.length,
      genuineAccepted: genuineStatuses.filter((s) => s === 202).length,
      genuineAnswers: tally(genuineStatuses),
      genuineLatencyMs: {
        p50: percentile(genuineLatencies, 50),
        p99: percentile(genuineLatencies, 99),
        max: percentile(genuineLatencies, 100),
      },
      durationMs: Math.round(durationMs),
      ...(figures as Pick<
        PhaseFigures,
        'rssMiB' | 'heapUsedMiB' | 'tokenReviews' | 'jwksFetches' | 'infoLogLines'
      >),
    };
  } finally {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('forged-token flood (bounded soak)', () => {
  it(`${FORGED} forged tokens while ${AGENTS} agents × ${ROUNDS} rounds report with fresh tokens`, async () => {
    const fallback = await phase({ issuerDiscovery: false });
    const local = await phase({});
    const figures = { agents: AGENTS, rounds: ROUNDS, workers: WORKERS, fallback, local };
    console.log(`forged-token flood figures:\n${JSON.stringify(figures, null, 2)}`);
    writeFileSync(
      fileURLToPath(new URL('./last-forged-flood.json', import.meta.url)),
      `${JSON.stringify(figures, null, 2)}\n`,
    );
    // With the issuer's keys: every genuine report accepted at its first attempt, each token reviewed
    // once, forged tokens refused without an API call (the keys fetched once at start).
    expect(local.genuineAnswers).toEqual({ '202': AGENTS * ROUNDS });
    expect(local.tokenReviews).toBe(AGENTS * ROUNDS);
    expect(local.forgedAnswers).toEqual({ '401': FORGED * 0.9, '403': FORGED * 0.1 });
    expect(local.jwksFetches).toBeLessThanOrEqual(Math.ceil(local.durationMs / 30_000) + 1);
    // Without them the TokenReview budget is shared with the forgeries (the figure RELIABILITY.md quotes).
    expect(fallback.tokenReviews).toBeGreaterThan(AGENTS * ROUNDS);
  });
});
