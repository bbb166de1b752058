// Part 5: cost curves at 1,000 / 5,000 / 20,000 nodes (quick: 200). Each node count is measured on its
// own (bench/scale/curve-size.ts); this module runs them, fits the growth per 1,000 nodes and renders a
// table per metric × node count, with the targets at 5,000 nodes and the point where one aggregator with
// the Deployment's limits stops keeping up.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AGGREGATOR_ENV } from '../../test/manifests/expected-args.js';
import { fixtureFacts } from '../lib/reports.js';
import type { BenchOptions, PartResult, Table, Target } from '../lib/result.js';
import { fmt, slope } from '../lib/stats.js';
import {
  DEFAULT_BURST,
  DEFAULT_QPS,
  HEARTBEAT_MS,
  measureSize,
  REPORT_INTERVAL_S,
  RESYNC_S,
  type SizeFigures,
} from './curve-size.js';

const TARGET_RSS_MIB = 256;
const TARGET_AT = 5000;
/** The Deployment's memory limit (manifests/base/aggregator-deployment.yaml) and its --max-old-space-size. */
const LIMIT_MIB = 512;
const OLD_SPACE_MIB = 256;
/** Seconds after a write burst settled at which its memory is read again (the memory reducer has run). */
const IDLE_S = 15;

/**
 * Node counts: BENCH_CURVE_NODES=1000,5000 for a partial run, else full 1,000 / 5,000 / 20,000 and quick
 * 200 (a spot check that the part runs: all of `--quick` stays under two minutes).
 */
function sizes(quick: boolean): number[] {
  const env = process.env['BENCH_CURVE_NODES'];
  if (env)
    return env
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  return quick ? [200] : [1000, 5000, 20000];
}

type Metric = [string, (f: SizeFigures) => number, number?];

/** One table: a row per metric, a column per node count, and the least-squares growth per 1,000 nodes. */
function curveTable(title: string, points: SizeFigures[], metrics: Metric[], unit: string): Table {
  return {
    title,
    header: ['', ...points.map((p) => `${p.n.toLocaleString('en-US')} nodes`), `per 1,000 nodes (${unit})`],
    rows: metrics.map(([name, get, digits]) => [
      name,
      ...points.map((p) => fmt(get(p), digits ?? 1)),
      points.length > 1 ? fmt(slope(points.map((p) => ({ x: p.n / 1000, y: get(p) }))), 2) : '—',
    ]),
  };
}

const perNodeHour = (f: SizeFigures, count: number) => (count / f.api.reports) * (3600 / REPORT_INTERVAL_S);

export function tables(points: SizeFigures[]): Table[] {
  return [
    curveTable(
      'Aggregator memory (MiB)',
      points,
      [
        ['VmRSS, Deployment flags, informer synced, no report', (f) => f.deployment.start.rssMiB],
        ['VmRSS, Deployment flags, every report stored', (f) => f.deployment.stored.rssMiB],
        [`VmRSS after ${'N ÷ 60 s'} reports (steady)`, (f) => f.deployment.steady.rssMiB],
        ['VmHWM (peak) of the Deployment-flags process, end', (f) => f.deployment.end.hwmMiB],
        ['V8 heap used, every report stored', (f) => f.deployment.stored.heapMiB],
        [
          'VmRSS with writes (every node written at once), 3 s after they settled',
          (f) => f.burst.stored.rssMiB,
        ],
        ['VmRSS with writes, idle after they settled (memory reducer ran)', (f) => f.burst.settled.rssMiB],
        ['VmHWM with writes (start, burst, two flips)', (f) => f.burst.end.hwmMiB],
        ['V8 heap used with writes, 3 s after they settled', (f) => f.burst.stored.heapMiB],
        ['V8 heap used with writes, idle after they settled', (f) => f.burst.settled.heapMiB],
      ],
      'MiB',
    ),
    curveTable(
      'Ingest (shared token, unchanged reports)',
      points,
      [
        ['target rate N ÷ 60 s (req/s)', (f) => f.rate.targetRps, 0],
        ['achieved at that rate (req/s)', (f) => f.rate.rps, 0],
        ['p99 at that rate (ms)', (f) => f.rate.latencyP99],
        ['saturation throughput (req/s)', (f) => f.saturation.rps, 0],
        ['p99 at saturation (ms)', (f) => f.saturation.latencyP99],
        [
          'non-2xx + errors (both runs)',
          (f) => f.rate.non2xx + f.rate.errors + f.saturation.non2xx + f.saturation.errors,
          0,
        ],
      ],
      'per 1,000',
    ),
    curveTable(
      'Convergence after 20 % of the nodes flip (s)',
      points,
      [
        ['write burst (--qps 10000): flip to fail', (f) => f.burstFlips[0]?.convergeS ?? Number.NaN],
        ['write burst: flip back to pass', (f) => f.burstFlips[1]?.convergeS ?? Number.NaN],
        [
          'write burst: writes per second achieved',
          (f) => (f.burstFlips[0] ? f.burstFlips[0].writes / f.burstFlips[0].convergeS : Number.NaN),
          0,
        ],
        [
          `Deployment --qps ${DEFAULT_QPS} --burst ${DEFAULT_BURST}: measured`,
          (f) => f.defaultFlip?.convergeS ?? Number.NaN,
        ],
        [
          `Deployment --qps ${DEFAULT_QPS}: bound (3 × 0.2·N − ${DEFAULT_BURST}) ÷ ${DEFAULT_QPS}`,
          (f) => Math.max(0, 0.6 * f.n - DEFAULT_BURST) / DEFAULT_QPS,
        ],
      ],
      's',
    ),
    curveTable(
      'API requests per node per hour, steady state (Deployment flags)',
      points,
      [
        ['writes (measured: PATCH nodes/status heartbeats)', (f) => perNodeHour(f, f.api.writes.total), 2],
        ['writes due (one heartbeat per 5 reports)', (f) => perNodeHour(f, f.api.due), 2],
        ['reads besides the watch (GET node, LIST)', (f) => perNodeHour(f, f.api.reads), 2],
        ['reconcile queue left at the end of the window (nodes)', (f) => f.api.queueDepthEnd, 0],
        ['write rate needed, N ÷ 300 s (writes/s)', (f) => f.n / (HEARTBEAT_MS / 1000), 1],
      ],
      'per 1,000',
    ),
    curveTable(
      'Forced informer relist (410 on the re-watch)',
      points,
      [
        ['time from the dropped watch to the new watch (s)', (f) => f.relist.ms / 1000, 2],
        ['VmRSS before (MiB)', (f) => f.relist.rssBeforeMiB],
        ['VmHWM during the relist (MiB; reset just before)', (f) => f.relist.peakMiB],
        ['VmRSS after (MiB)', (f) => f.relist.rssAfterMiB],
        ['V8 heap used, after − before (MiB)', (f) => f.relist.heapAfterMiB - f.relist.heapBeforeMiB],
        ['LIST requests (pages of 500)', (f) => f.relist.listRequests, 0],
      ],
      'per 1,000',
    ),
  ];
}

/** Where one aggregator with the Deployment's limits stops keeping up, from the fitted curves. */
export function breakingPoints(points: SizeFigures[]): string[] {
  const linearFit = (get: (f: SizeFigures) => number) => {
    const s = slope(points.map((p) => ({ x: p.n, y: get(p) })));
    const first = points[0] as SizeFigures;
    return { perNode: s, at: (n: number) => get(first) + s * (n - first.n) };
  };
  if (points.length < 2) {
    return [
      `One node count measured (${points.map((p) => p.n).join(', ')}): growth per 1,000 nodes and the breaking points need at least two (the full run measures 1,000 / 5,000 / 20,000).`,
    ];
  }
  const rss = linearFit((f) => Math.max(f.burst.settled.rssMiB, f.deployment.steady.rssMiB));
  const heap = linearFit((f) => Math.max(f.burst.settled.heapMiB, f.deployment.stored.heapMiB));
  const nodesAt = (f: ReturnType<typeof linearFit>, limit: number) =>
    f.perNode > 0
      ? Math.round((points[0] as SizeFigures).n + (limit - f.at((points[0] as SizeFigures).n)) / f.perNode)
      : Number.POSITIVE_INFINITY;
  const writeBound = DEFAULT_QPS * (HEARTBEAT_MS / 1000);
  const sat = Math.min(...points.map((p) => p.saturation.rps));
  return [
    `Heartbeat writes: every node's condition heartbeat is written once per ${HEARTBEAT_MS / 60_000} min (the first report after the throttle), i.e. N ÷ 300 writes a second; the default --qps ${DEFAULT_QPS} carries ${writeBound.toLocaleString('en-US')} nodes. Past it the reconcile queue never empties and a verdict change waits behind heartbeats: **this is the first bound**, at ~${writeBound.toLocaleString('en-US')} nodes.`,
    `Memory: ${fmt(rss.perNode * 1000, 1)} MiB resident and ${fmt(heap.perNode * 1000, 1)} MiB of V8 heap per 1,000 nodes (fitted over the measured points, the larger of with-writes and steady); the heap reaches --max-old-space-size=${OLD_SPACE_MIB} at ~${nodesAt(heap, OLD_SPACE_MIB).toLocaleString('en-US')} nodes and the resident set the ${LIMIT_MIB} MiB limit at ~${nodesAt(rss, LIMIT_MIB).toLocaleString('en-US')}.`,
    `Ingest: the lowest saturation throughput measured is ${fmt(sat, 0)} req/s on this 2-core machine (load generator included), against N ÷ 60 s needed: ~${Math.round((sat * REPORT_INTERVAL_S) / 1000) * 1000} nodes at one report a minute, before any headroom.`,
  ];
}

export function targets(points: SizeFigures[]): Target[] {
  const at = points.find((p) => p.n === TARGET_AT);
  if (!at) return [];
  const withWrites = at.burst.settled.rssMiB;
  const steady = at.deployment.steady.rssMiB;
  return [
    {
      what: `aggregator VmRSS at ${TARGET_AT} nodes, steady with the Deployment's flags / idle after every node was written at once`,
      target: `≤ ${TARGET_RSS_MIB} MiB`,
      measured: `${fmt(steady)} / ${fmt(withWrites)} MiB (3 s after the writes ${fmt(at.burst.stored.rssMiB)}; peak ${fmt(at.deployment.end.hwmMiB)} / ${fmt(at.burst.end.hwmMiB)}, limit ${LIMIT_MIB})`,
      met: steady <= TARGET_RSS_MIB && withWrites <= TARGET_RSS_MIB,
      limitedBy: `~${fmt(at.deployment.start.rssMiB)} MiB before any report (Node, fastify, @kubernetes/client-node, the informer's ${TARGET_AT} slim Nodes)`,
    },
  ];
}

function method(points: number[]): string[] {
  const env = Object.entries(AGGREGATOR_ENV)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
  return [
    `Node counts ${points.map((n) => n.toLocaleString('en-US')).join(' / ')}, each on a fresh Kubernetes API emulator (in the bench process, loopback) and fresh aggregator children (\`node dist/cli/main.js aggregator --kubeconfig … --token-file …\`, the Deployment's environment ${env}, plain HTTP, shared-token auth so that only the informer and the reconciler talk to the emulator). Reports: fixture host \`ubuntu2204-gpu-pass\` (verdict warn), one per node.`,
    `**With writes**: an aggregator with \`--qps 10000 --burst 10000\` gets every node's first report (16 concurrent requests) and writes every node (PATCH nodes, PATCH nodes/status, an Event); memory is read 3 s after the writes settled (still much of the burst's garbage: V8 heap used 83–188 MiB over five 5,000-node runs, with ~77 MiB live) and again ${IDLE_S} s after, nothing sent meanwhile: by then \`--memory-saver-mode\`'s memory reducer has collected (polled each second in one 5,000-node run: 236 MiB resident / 127 MiB heap until 6 s, 177–182 MiB / 73–77 MiB from 7 s on). The target is on the idle figure; the peak over the burst and the flips (VmHWM) is what the Deployment's ${LIMIT_MIB} MiB limit must cover. Then 20 % of the nodes (every 5th) flip to fail (NVIDIA driver 535.54.03) and back: convergence = every flipped node shows its label and condition in the emulator.`,
    `**Deployment flags**: that aggregator stops; every node's heartbeat is set to now; a fresh aggregator with the default \`--qps ${DEFAULT_QPS} --burst ${DEFAULT_BURST}\` (only \`--resync\` shortened to ${RESYNC_S} s, so resync walks happen in the window; a walk reads the informer's cache) gets every report once (no write: the nodes are already written), then autocannon (its own process, 10 connections) sends N ÷ 60 s reports for the window: the fleet's real rate. Its p99 is coordinated-omission corrected. Then autocannon at saturation.`,
    `**Steady-state API requests**: before the window each node's condition heartbeat is aged as in a fleet that has run a while (node i, which reports at i·60/N s into the window, is 305 − 60·(i mod 5) s past its last heartbeat: one report in five finds its 5 min heartbeat due). The emulator's requests during the window are counted and scaled per node per hour: count ÷ reports in the window × 60 reports an hour. The watch is one long request (renewed every 150 s, whatever N) and is not counted as a read per node.`,
    "**Relist**: the emulator forgets its watch history and ends the watch, so the informer's re-watch gets 410 and lists every Node again (pages of 500). Time from the dropped watch to the new watch request; VmHWM reset (`/proc/PID/clear_refs` 5) just before, read 1 s after.",
    "**Convergence at the Deployment's rate limit**: measured where the run stays bounded (a 20 % flip is 3 writes per flipped node at 20 writes/s: 27.5 s at 1,000 nodes, 597.5 s at 20,000); the bound is shown for every count.",
  ];
}

export async function runCurvesPart(opts: BenchOptions): Promise<PartResult> {
  const counts = sizes(opts.quick);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-curves-'));
  try {
    const sample = await fixtureFacts('ubuntu2204-gpu-pass');
    const points: SizeFigures[] = [];
    for (const n of counts) {
      const figures = await measureSize({
        n,
        rateS: opts.quick ? 2 : 20,
        saturationS: opts.quick ? 1 : 8,
        idleS: opts.quick ? 4 : IDLE_S,
        defaultFlip: n <= 1000,
        dir,
        sample,
        log: opts.log,
      });
      opts.log(`curves ${n}: done in ${fmt(figures.seconds)} s: ${JSON.stringify(figures)}`);
      points.push(figures);
    }
    return {
      id: 'curves',
      title: 'Cost curves (issue 16)',
      method: method(counts),
      rows: points.map((p): [string, string] => [
        `${p.n} nodes: run time, write burst (send, converge, writes)`,
        `${fmt(p.seconds)} s; ${fmt(p.burst.sendS)} s, ${fmt(p.burst.convergeS)} s, ${p.burst.writes}`,
      ]),
      tables: tables(points),
      targets: targets(points),
      notes: breakingPoints(points),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
