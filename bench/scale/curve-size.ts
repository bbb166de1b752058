// One point of the cost curves (bench/scale/curves.ts): N nodes of the Kubernetes API emulator (in the bench
// process) reconciled by the built aggregator (a child with the Deployment's environment), in two phases.
//   1. Write burst: an aggregator with a high --qps writes every node (labels, condition, Event), then
//      flips 20 % of them: resident memory with writes, and convergence when the rate limit is not the bound.
//   2. The Deployment's flags (--qps/--burst defaults, resync shortened): a fresh aggregator over the
//      written nodes. Steady memory, ingest at the fleet's rate (N ÷ 60 s) and at saturation, API requests
//      per report in a steady state (heartbeats due as in a running fleet), a forced relist, and (when
//      asked) the convergence of a 20 % flip at the default rate limit.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import type { LoadResult } from '../ingest/load-job.js';
import { COLLECTED_AT_PLACEHOLDER, NODE_PLACEHOLDER } from '../ingest/load-job.js';
import { memoryOf, sleep, waitFor } from '../lib/proc.js';
import { type FactsSample, makeReport, nodeName } from '../lib/reports.js';
import { runLoad, type ServerChild, startAggregator } from '../lib/servers.js';
import { mib } from '../lib/stats.js';
import { allInState, metric, sendRound, settle, TOKEN, type WriteLog, writeLog } from './scale.js';

/** The aggregator's defaults (aggregator/options.ts: `qps` "20 without it", `burst` "50 without it"). */
export const DEFAULT_QPS = 20;
export const DEFAULT_BURST = 50;
/** The reconciler's condition heartbeat throttle (kubernetes-integration.ts, not a flag). */
export const HEARTBEAT_MS = 300_000;
export const REPORT_INTERVAL_S = 60;
const BURST_QPS = 10_000;
const FLIP_SHARE = 0.2;
/** The first memory reading after a write burst settled (`burst.stored`). */
const STORED_AFTER_MS = 3000;
const CONDITION = 'osmo.nvidia.com/BaselineNotMet';
export const RESYNC_S = 10;

export interface SizeOptions {
  n: number;
  /** Seconds of the fixed-rate (N ÷ 60 s) run, which is also the steady-state window. */
  rateS: number;
  saturationS: number;
  /**
   * Seconds after the write burst settled at which memory is read again: by then V8's memory reducer
   * (`--memory-saver-mode`) has collected the burst's garbage (it runs ~8 s after the allocation stops).
   */
  idleS: number;
  /** Also flip 20 % at the default --qps/--burst (takes (0.6·N − 50) ÷ 20 s). */
  defaultFlip: boolean;
  dir: string;
  sample: FactsSample;
  log: (line: string) => void;
}

export interface Memory {
  rssMiB: number;
  hwmMiB: number;
  heapMiB: number;
}

export interface FlipFigures {
  flipped: number;
  writes: number;
  convergeS: number;
  boundS: number;
  qps: number;
}

export interface SteadyApi {
  reports: number;
  writes: WriteLog;
  /** GETs other than the watch (reads of single nodes, lists). */
  reads: number;
  watches: number;
  /** Heartbeats due in the window (from the seeded ages) and the reconcile queue left at its end. */
  due: number;
  queueDepthEnd: number;
  windowS: number;
}

export interface RelistFigures {
  ms: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** VmHWM after it was reset just before the relist: the relist's own peak. */
  peakMiB: number;
  heapBeforeMiB: number;
  heapAfterMiB: number;
  listRequests: number;
}

export interface SizeFigures {
  n: number;
  burst: {
    start: Memory;
    /** 3 s after the writes settled: still holds much of the burst's garbage. */
    stored: Memory;
    /** `idleS` after the writes settled, nothing sent meanwhile. */
    settled: Memory;
    /** After the two flips: its VmHWM is the process's peak over start, burst and flips. */
    end: Memory;
    sendS: number;
    convergeS: number;
    writes: number;
  };
  /** At the write-burst rate: to fail, and back to pass. */
  burstFlips: FlipFigures[];
  deployment: { start: Memory; stored: Memory; steady: Memory; end: Memory };
  rate: LoadResult & { targetRps: number };
  saturation: LoadResult;
  api: SteadyApi;
  relist: RelistFigures;
  defaultFlip?: FlipFigures;
  seconds: number;
}

async function memory(server: ServerChild): Promise<Memory> {
  const m = memoryOf(server.child.pid);
  const heap = await metric(server.url, 'nodejs_heap_size_used_bytes');
  return {
    rssMiB: m ? mib(m.rssKiB) : Number.NaN,
    hwmMiB: m ? mib(m.hwmKiB) : Number.NaN,
    heapMiB: heap / 2 ** 20,
  };
}

/** Resets the process's VmHWM to its VmRSS (Linux clear_refs 5); false when not allowed. */
async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface Fleet {
  emu: K8sEmulator;
  nodes: string[];
  flipped: Set<string>;
  kubeconfig: string;
  tokenFile: string;
  reports(failFlipped: boolean): ReturnType<typeof makeReport>[];
}

async function aggregator(fleet: Fleet, extra: string[]): Promise<ServerChild> {
  return startAggregator([
    '--kubeconfig',
    fleet.kubeconfig,
    '--token-file',
    fleet.tokenFile,
    '--metrics-open',
    ...extra,
  ]);
}

/** Sends a round with the flipped nodes failing (or passing) and times their convergence. */
async function flip(fleet: Fleet, url: string, toFail: boolean, qps: number, burst: number) {
  const names = [...fleet.flipped];
  fleet.emu.reset();
  const t0 = performance.now();
  await sendRound(url, fleet.reports(toFail));
  // Bounded by the rate limit (three writes per flipped node) or, unthrottled, by what the 2 cores do:
  // every node's report is sent, ~20 ms a node at the worst measured.
  const limitMs = Math.max((3 * names.length * 3000) / qps, fleet.nodes.length * 20) + 120_000;
  await waitFor('the flipped nodes to converge', allInState(fleet.emu, names, toFail), limitMs, 100);
  const convergeS = (performance.now() - t0) / 1000;
  await settle(fleet.emu, url, 1500, 120_000);
  const writes = fleet.emu.writes();
  return { flipped: names.length, writes, convergeS, boundS: Math.max(0, writes - burst) / qps, qps };
}

/** Phase 1: every node written at a high rate, then 20 % flipped to fail. */
async function burstPhase(fleet: Fleet, o: SizeOptions): Promise<Pick<SizeFigures, 'burst' | 'burstFlips'>> {
  const server = await aggregator(fleet, ['--qps', String(BURST_QPS), '--burst', String(BURST_QPS)]);
  try {
    const start = await memory(server);
    o.log(`curves ${o.n}: write burst (--qps ${BURST_QPS})`);
    fleet.emu.reset();
    const t0 = performance.now();
    const sent = await sendRound(server.url, fleet.reports(false));
    await waitFor('every node written', allInState(fleet.emu, fleet.nodes, false), o.n * 20 + 120_000, 250);
    const convergeS = (performance.now() - t0) / 1000;
    await settle(fleet.emu, server.url, 1500, 120_000);
    const writes = fleet.emu.writes();
    await sleep(STORED_AFTER_MS);
    const stored = await memory(server);
    await sleep(Math.max(0, o.idleS * 1000 - STORED_AFTER_MS));
    const settled = await memory(server);
    o.log(`curves ${o.n}: flip 20 % to fail and back at --qps ${BURST_QPS}`);
    const burstFlips = [
      await flip(fleet, server.url, true, BURST_QPS, BURST_QPS),
      await flip(fleet, server.url, false, BURST_QPS, BURST_QPS),
    ];
    const end = await memory(server);
    return { burst: { start, stored, settled, end, sendS: sent.sendS, convergeS, writes }, burstFlips };
  } finally {
    await server.stop();
  }
}

function setHeartbeat(emu: K8sEmulator, name: string, atMs: number): void {
  const at = new Date(atMs).toISOString().replace(/\.\d+Z$/, 'Z');
  emu.nodes.mutate(name, (obj) => {
    const status = obj['status'] as { conditions?: Array<Record<string, unknown>> };
    const c = status.conditions?.find((x) => x['type'] === CONDITION);
    if (c) c['lastHeartbeatTime'] = at;
  });
}

/**
 * Heartbeat ages as in a fleet that has run a while: node i reports at i·60/N s into the window (the load
 * generator sends the nodes in order at N ÷ 60 s); its condition's heartbeat is then 305 − 60·k s old,
 * k = i mod 5 (0..4): due (5 s past the 5 min throttle) for k = 0, due k·60 − 5 s later otherwise. One
 * report in five finds its heartbeat due, as in a fleet reporting every 60 s under the 5 min throttle.
 */
function seedHeartbeats(fleet: Fleet, windowStartMs: number): void {
  const n = fleet.nodes.length;
  fleet.nodes.forEach((name, i) => {
    const reportAt = windowStartMs + (i * REPORT_INTERVAL_S * 1000) / n;
    setHeartbeat(fleet.emu, name, reportAt - HEARTBEAT_MS - 5000 + (i % 5) * REPORT_INTERVAL_S * 1000);
  });
}

function steadyApi(
  emu: K8sEmulator,
  reports: number,
  due: number,
  depth: number,
  windowS: number,
): SteadyApi {
  const isWatch = (q: Record<string, string>) => q['watch'] === 'true' || q['watch'] === '1';
  const reads = emu.requests.filter((r) => r.method === 'GET' && !isWatch(r.query)).length;
  const watches = emu.requests.filter((r) => r.method === 'GET' && isWatch(r.query)).length;
  return { reports, writes: writeLog(emu), reads, watches, due, queueDepthEnd: depth, windowS };
}

/** A forced relist: history compacted and watches dropped, so the re-watch gets 410 and lists again. */
async function forcedRelist(fleet: Fleet, server: ServerChild): Promise<RelistFigures> {
  const before = await memory(server);
  await sleep(500);
  const reset = await resetPeak(server.child.pid);
  fleet.emu.reset();
  // The re-watch after the dropped stream answers 410 Gone, as an apiserver whose watch cache moved on.
  fleet.emu.inject({ method: 'GET', path: '/api/v1/nodes', watch: true, status: 410, times: 1 });
  const t0 = Date.now();
  fleet.emu.dropWatches();
  const isList = (q: Record<string, string>) => q['watch'] !== 'true' && q['watch'] !== '1';
  await waitFor(
    'the informer to relist and watch again',
    () => {
      const log = fleet.emu.requests;
      const lastList = log.findLastIndex(
        (r) => r.method === 'GET' && r.path === '/api/v1/nodes' && isList(r.query),
      );
      return (
        lastList >= 0 &&
        log.slice(lastList + 1).some((r) => r.path === '/api/v1/nodes' && r.query['watch'] === 'true')
      );
    },
    120_000,
    20,
  );
  const log = fleet.emu.requests;
  const watchAt =
    log.findLast((r) => r.path === '/api/v1/nodes' && r.query['watch'] === 'true')?.at ?? Date.now();
  const listRequests = log.filter(
    (r) => r.method === 'GET' && r.path === '/api/v1/nodes' && isList(r.query),
  ).length;
  await sleep(1000);
  const after = await memory(server);
  return {
    ms: watchAt - t0,
    rssBeforeMiB: before.rssMiB,
    rssAfterMiB: after.rssMiB,
    peakMiB: reset ? after.hwmMiB : Number.NaN,
    heapBeforeMiB: before.heapMiB,
    heapAfterMiB: after.heapMiB,
    listRequests,
  };
}

async function loadAt(fleet: Fleet, o: SizeOptions, url: string, rate: number | undefined, s: number) {
  const template = JSON.stringify({
    ...makeReport(o.sample, NODE_PLACEHOLDER),
    collectedAt: COLLECTED_AT_PLACEHOLDER,
  });
  return runLoad(o.dir, {
    url,
    connections: 10,
    durationS: s,
    ...(rate !== undefined ? { overallRate: rate } : {}),
    template,
    nodes: fleet.nodes,
    tokens: [TOKEN],
  });
}

/** Phase 2: the Deployment's flags over the written nodes. */
async function deploymentPhase(fleet: Fleet, o: SizeOptions) {
  // Phase 1 may have taken minutes: every heartbeat fresh, so the first round owes none.
  const now = Date.now();
  for (const name of fleet.nodes) setHeartbeat(fleet.emu, name, now);
  const server = await aggregator(fleet, ['--resync', `${RESYNC_S}s`]);
  try {
    const start = await memory(server);
    o.log(`curves ${o.n}: Deployment flags, every node reports once`);
    await sendRound(server.url, fleet.reports(false));
    await settle(fleet.emu, server.url, 1500, 120_000);
    await sleep(2000);
    const stored = await memory(server);
    const targetRps = o.n / REPORT_INTERVAL_S;
    const windowStart = Date.now() + 2000;
    seedHeartbeats(fleet, windowStart);
    await sleep(Math.max(0, windowStart - Date.now()));
    fleet.emu.reset();
    o.log(`curves ${o.n}: ${o.rateS} s at ${targetRps.toFixed(0)} req/s (steady state)`);
    const rate = await loadAt(fleet, o, server.url, targetRps, o.rateS);
    const depth = await metric(server.url, 'osmo_validator_reconcile_queue_depth');
    const due = Math.ceil(Math.min(rate.ok, o.n) / 5); // reports of nodes 0, 5, 10, …
    const api = steadyApi(fleet.emu, rate.ok, due, depth, o.rateS);
    const steady = await memory(server);
    // Fresh heartbeats again: the queue left by the window drains without writes, none falls due later.
    const fresh = Date.now();
    for (const name of fleet.nodes) setHeartbeat(fleet.emu, name, fresh);
    await settle(fleet.emu, server.url, 1000, 600_000);
    o.log(`curves ${o.n}: saturation, ${o.saturationS} s`);
    const saturation = await loadAt(fleet, o, server.url, undefined, o.saturationS);
    await settle(fleet.emu, server.url, 1000, 120_000);
    const relist = await forcedRelist(fleet, server);
    const defaultFlip = o.defaultFlip
      ? await flip(fleet, server.url, true, DEFAULT_QPS, DEFAULT_BURST)
      : undefined;
    const end = await memory(server);
    return {
      deployment: { start, stored, steady, end },
      rate: { ...rate, targetRps },
      saturation,
      api,
      relist,
      ...(defaultFlip && { defaultFlip }),
    };
  } finally {
    await server.stop();
  }
}

export async function measureSize(o: SizeOptions): Promise<SizeFigures> {
  const t0 = performance.now();
  const emu = await startK8sEmulator({ maxLogEntries: 400_000, historyLimit: 50_000 });
  try {
    const nodes = Array.from({ length: o.n }, (_, i) => nodeName(i + 1));
    emu.nodes.putMany(nodes.map((name) => makeNode(name)));
    const flipped = new Set(nodes.filter((_, i) => i % Math.round(1 / FLIP_SHARE) === 2));
    const tokenFile = path.join(o.dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const fleet: Fleet = {
      emu,
      nodes,
      flipped,
      kubeconfig: await emu.writeKubeconfigFile(o.dir),
      tokenFile,
      reports: (failFlipped) =>
        nodes.map((name) => makeReport(o.sample, name, { oldDriver: failFlipped && flipped.has(name) })),
    };
    const burst = await burstPhase(fleet, o);
    const deployment = await deploymentPhase(fleet, o);
    return { n: o.n, ...burst, ...deployment, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await emu.close();
  }
}
