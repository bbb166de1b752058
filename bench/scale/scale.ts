// Part 3: scale and write economy. The built aggregator (child process) reconciles N nodes of the
// Kubernetes API emulator (in the bench process) at a chosen QPS: its memory with N reports stored, the
// writes caused by a round of unchanged reports, and the writes and convergence time when 20 % of the
// nodes change verdict (re-sent with an older NVIDIA driver: the running aggregator's spec is fixed).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Report } from '../../report/schema.js';
import { AGGREGATOR_ENV } from '../../test/manifests/expected-args.js';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { httpGet, memoryOf, NODE, ROOT, sleep, waitFor } from '../lib/proc.js';
import { type FactsSample, fixtureFacts, makeReport, nodeName } from '../lib/reports.js';
import type { BenchOptions, PartResult } from '../lib/result.js';
import { type ServerChild, startAggregator } from '../lib/servers.js';
import { fmt, median, mib } from '../lib/stats.js';

export const TOKEN = 'bench-shared-token-0123456789abcdef';
const QPS = 200;
const BURST = 50;
const FLIP_SHARE = 0.2;
const CONFORMANT = 'validator.osmo.nvidia.com/conformant';
const CONDITION = 'osmo.nvidia.com/BaselineNotMet';
const TARGET_RSS_MIB = 256;
const TARGET_WRITES_PER_CHANGE = 2;
const SEND_CONCURRENCY = 16;

/** VmRSS (KiB) of a fresh Node process after importing `specifier` (empty: nothing). */
async function importRss(specifier: string): Promise<number> {
  const code = `${specifier ? `await import(${JSON.stringify(specifier)});` : ''}
const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');
console.log(/VmRSS:\\s+(\\d+)/.exec(s)[1]);`;
  const { stdout } = await promisify(execFile)(NODE, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    timeout: 30_000,
  });
  return Number(stdout.trim());
}

export interface RoundResult {
  sendS: number;
  verdicts: Record<string, number>;
  rejected: number;
}

/** POSTs every report (keep-alive fetch, bounded concurrency); counts the verdicts the aggregator answers. */
export async function sendRound(url: string, reports: Report[]): Promise<RoundResult> {
  const verdicts: Record<string, number> = {};
  let rejected = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < reports.length) {
      const report = reports[next++] as Report;
      const res = await fetch(`${url}/api/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ ...report, collectedAt: new Date().toISOString() }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { verdict?: string };
      if (res.status !== 202) rejected++;
      else verdicts[body.verdict ?? '?'] = (verdicts[body.verdict ?? '?'] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, worker));
  return { sendS: (performance.now() - t0) / 1000, verdicts, rejected };
}

/** Whether a node in the emulator shows the labels and condition of `verdict`. */
function inState(emu: K8sEmulator, name: string, fail: boolean): boolean {
  const node = emu.nodes.get(name) as
    | {
        metadata?: { labels?: Record<string, string> };
        status?: { conditions?: Array<{ type: string; status: string }> };
      }
    | undefined;
  const label = node?.metadata?.labels?.[CONFORMANT];
  const condition = node?.status?.conditions?.find((c) => c.type === CONDITION)?.status;
  return label === (fail ? 'false' : 'true') && condition === (fail ? 'True' : 'False');
}

/** A check that every node reaches its state; only the nodes not there yet are looked at again. */
export function allInState(emu: K8sEmulator, names: string[], fail: boolean): () => boolean {
  let pending = names;
  return () => {
    pending = pending.filter((name) => !inState(emu, name, fail));
    return pending.length === 0;
  };
}

export async function metric(url: string, name: string): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  let total = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.split(' ').pop());
  }
  return total;
}

/** Waits until the reconcile queue is empty and the emulator saw no write for `quietMs`. */
export async function settle(
  emu: K8sEmulator,
  url: string,
  quietMs: number,
  timeoutMs: number,
): Promise<void> {
  let lastWrites = -1;
  let quietSince = performance.now();
  await waitFor(
    'the reconciler to settle',
    async () => {
      const writes = emu.writes();
      if (writes !== lastWrites) {
        lastWrites = writes;
        quietSince = performance.now();
        return false;
      }
      if ((await metric(url, 'osmo_validator_reconcile_queue_depth')) > 0) return false;
      return performance.now() - quietSince >= quietMs;
    },
    timeoutMs,
    100,
  );
}

export interface WriteLog {
  total: number;
  byKind: Record<string, number>;
  failed: number;
  status429: number;
}

export function writeLog(emu: K8sEmulator): WriteLog {
  const byKind: Record<string, number> = {};
  let failed = 0;
  let status429 = 0;
  for (const r of emu.requests) {
    if (r.status === 429) status429++;
    if (!r.write) continue;
    if (r.status >= 400) failed++;
    const kind = r.path.endsWith('/status')
      ? `${r.method} nodes/status`
      : /\/events$/.test(r.path)
        ? `${r.method} events`
        : /^\/api\/v1\/nodes\//.test(r.path)
          ? `${r.method} nodes`
          : `${r.method} ${r.path}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { total: emu.writes(), byKind, failed, status429 };
}

export const kinds = (w: WriteLog) =>
  Object.entries(w.byKind)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

interface FlipResult {
  toFail: boolean;
  writes: WriteLog;
  convergeS: number;
  boundS: number;
  sendS: number;
  verdicts: Record<string, number>;
}

export async function runScalePart(opts: BenchOptions): Promise<PartResult> {
  const n = opts.quick ? 500 : 5000;
  const flipCount = Math.round(n * FLIP_SHARE);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-scale-'));
  const emu = await startK8sEmulator({ maxLogEntries: 200_000, historyLimit: 50_000 });
  let server: ServerChild | undefined;
  try {
    const sample: FactsSample = await fixtureFacts('ubuntu2204-gpu-pass');
    const nodes = Array.from({ length: n }, (_, i) => nodeName(i + 1));
    emu.nodes.putMany(nodes.map((name) => makeNode(name)));
    const kubeconfig = await emu.writeKubeconfigFile(dir);
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    server = await startAggregator([
      '--kubeconfig',
      kubeconfig,
      '--token-file',
      tokenFile,
      '--qps',
      String(QPS),
      '--burst',
      String(BURST),
      '--metrics-open',
    ]);
    const url = server.url;
    const pid = server.child.pid;
    const memAtStart = memoryOf(pid);
    const heapMiB = async () => (await metric(url, 'nodejs_heap_size_used_bytes')) / 2 ** 20;
    const heapAtStart = await heapMiB();
    // Every 5th node flips: spread over the name space like real failures.
    const flipped = nodes.filter((_, i) => i % Math.round(1 / FLIP_SHARE) === 0).slice(0, flipCount);
    const flippedSet = new Set(flipped);
    const round = (failFlipped: boolean) =>
      nodes.map((name) => makeReport(sample, name, { oldDriver: failFlipped && flippedSet.has(name) }));

    // Round 1: every node reports for the first time (labels, condition: ~2 writes per node).
    opts.log(`scale: initial round, ${n} nodes at --qps ${QPS}`);
    emu.reset();
    const t0 = performance.now();
    const initial = await sendRound(url, round(false));
    await waitFor('every node labelled', allInState(emu, nodes, false), n * 10 + 120_000, 250);
    const initialConvergeS = (performance.now() - t0) / 1000;
    await settle(emu, url, 1500, 60_000);
    const initialWrites = writeLog(emu);
    const memStored = memoryOf(pid);
    const heapStored = await heapMiB();

    // Round 2: the same facts again (new collectedAt): nothing should be written.
    opts.log('scale: unchanged round');
    emu.reset();
    const unchanged = await sendRound(url, round(false));
    await settle(emu, url, 2000, 60_000);
    const unchangedWrites = writeLog(emu);

    // Flips: 20 % of the nodes to fail (older driver), back to pass, to fail again...
    const flips: FlipResult[] = [];
    for (let r = 0; r < opts.reps; r++) {
      const toFail = r % 2 === 0;
      opts.log(`scale: flip ${r + 1}/${opts.reps}: ${flipCount} nodes to ${toFail ? 'fail' : 'pass'}`);
      emu.reset();
      const started = performance.now();
      const sent = await sendRound(url, round(toFail));
      await waitFor(
        'the flipped nodes to converge',
        allInState(emu, flipped, toFail),
        flipCount * 20 + 120_000,
        100,
      );
      const convergeS = (performance.now() - started) / 1000;
      await settle(emu, url, 1500, 60_000);
      const writes = writeLog(emu);
      flips.push({
        toFail,
        writes,
        convergeS,
        boundS: Math.max(0, writes.total - BURST) / QPS,
        sendS: sent.sendS,
        verdicts: sent.verdicts,
      });
    }
    const memEnd = memoryOf(pid);
    const heapEnd = await heapMiB();
    const bareRss = await importRss('');
    const clientRss = await importRss('@kubernetes/client-node');
    const fastifyRss = await importRss('fastify');
    const conflicts = await metric(url, 'osmo_validator_k8s_conflicts_total');
    const writeFailures = await metric(url, 'osmo_validator_k8s_write_failures_total');

    const perChange = median(flips.map((f) => f.writes.total / flipCount));
    // Writes to the Node object (PATCH nodes + PATCH nodes/status) and Events, per changed node, apart.
    const eventsOf = (w: WriteLog) =>
      Object.entries(w.byKind)
        .filter(([k]) => k.endsWith(' events'))
        .reduce((s, [, v]) => s + v, 0);
    const nodeWritesPerChange = median(flips.map((f) => (f.writes.total - eventsOf(f.writes)) / flipCount));
    const eventsPerChange = median(flips.map((f) => eventsOf(f.writes) / flipCount));
    // One breakdown (the median flip's), not one per flip: the per-flip rows above have each.
    const medianFlip = [...flips].sort((a, b) => a.writes.total - b.writes.total)[
      Math.floor(flips.length / 2)
    ];
    const convergeS = median(flips.map((f) => f.convergeS));
    const boundS = median(flips.map((f) => f.boundS));
    const failedWrites = flips.reduce(
      (s, f) => s + f.writes.failed,
      initialWrites.failed + unchangedWrites.failed,
    );
    const status429 = flips.reduce((s, f) => s + f.writes.status429, initialWrites.status429);
    const rssStored = memStored === null ? Number.NaN : mib(memStored.rssKiB);
    const rssMax = memEnd === null ? Number.NaN : mib(memEnd.hwmKiB);

    return {
      id: 'scale',
      title: 'Scale and write economy',
      method: [
        `The Kubernetes API emulator (in the bench process) holds ${n} nodes; the built aggregator runs as a child (\`node dist/cli/main.js aggregator --kubeconfig … --token-file … --qps ${QPS} --burst ${BURST}\`, plain HTTP on 127.0.0.1, shared-token auth so that only reconciliation talks to the emulator besides the informer). Reports: the facts the collector gathers on fixture host \`ubuntu2204-gpu-pass\`, one per node name, POSTed by the bench with ${SEND_CONCURRENCY} concurrent keep-alive requests.`,
        `Rounds: (1) every node reports for the first time; convergence = every node shows \`${CONFORMANT}\` and the \`${CONDITION}\` condition in the emulator; (2) the same facts again — writes counted with \`emulator.writes()\` (POST/PUT/PATCH/DELETE, TokenReviews excluded) after the reconcile queue is empty and no write came for 2 s; (3) ${opts.reps} flip(s) of ${flipCount} nodes (${FLIP_SHARE * 100} %, every 5th node): all ${n} nodes report, the flipped ones with NVIDIA driver 535.54.03 (below the baseline's 535.216.03) → \`fail\`, then back to the passing driver, alternately. A spec change in a running aggregator is not supported (the spec is read at start), so a verdict change is simulated by changed reports, as a spec change would produce for the same nodes.`,
        `Convergence time of a flip: from the first report of the round until every flipped node shows its new label and condition (polled every 100 ms), compared with the rate-limit bound (writes − burst) / QPS. All rounds run within the 5-minute condition-heartbeat throttle, so unchanged nodes owe no heartbeat write.`,
        `Memory: VmRSS of the aggregator process once ${n} nodes' reports are stored and reconciled (after round 1), and its VmHWM at the end. The aggregator runs with the Deployment's environment (${Object.entries(
          AGGREGATOR_ENV,
        )
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(
            ', ',
          )}; \`AGGREGATOR_ENV\` in \`test/manifests/expected-args.ts\`, which the manifests test holds the Deployment to).`,
        'Writes per changed node are counted apart: Node writes (PATCH nodes, PATCH nodes/status; target ≤ 2) and Events (POST events: one per verdict transition, which the reconciliation issue requires; it is not dropped to meet the write target).',
      ],
      rows: [
        [
          'aggregator VmRSS at start (informer synced, no reports)',
          memAtStart === null ? 'n/a' : `${fmt(mib(memAtStart.rssKiB))} MiB`,
        ],
        [`aggregator VmRSS with ${n} reports stored`, `${fmt(rssStored)} MiB`],
        ['aggregator VmHWM at the end', `${fmt(rssMax)} MiB`],
        [
          'aggregator V8 heap used (from /metrics) at start / stored / end',
          `${fmt(heapAtStart)} / ${fmt(heapStored)} / ${fmt(heapEnd)} MiB`,
        ],
        [
          'context: VmRSS of a fresh Node process, bare / after importing fastify / @kubernetes/client-node',
          `${fmt(mib(bareRss))} / ${fmt(mib(fastifyRss))} / ${fmt(mib(clientRss))} MiB`,
        ],
        [
          'initial round: send time, convergence, writes',
          `${fmt(initial.sendS)} s, ${fmt(initialConvergeS)} s, ${initialWrites.total} (${kinds(initialWrites)}); bound ${fmt(Math.max(0, initialWrites.total - BURST) / QPS)} s`,
        ],
        ['initial round verdicts', JSON.stringify(initial.verdicts)],
        [
          'unchanged round: send time, writes',
          `${fmt(unchanged.sendS)} s, ${unchangedWrites.total} (${kinds(unchangedWrites)})`,
        ],
        ...flips.map((f, i): [string, string] => [
          `flip ${i + 1} (${flipCount} nodes → ${f.toFail ? 'fail' : 'pass'}): writes, per node, convergence vs bound`,
          `${f.writes.total} (${kinds(f.writes)}), ${fmt(f.writes.total / flipCount, 2)}/node, ${fmt(f.convergeS)} s vs ${fmt(f.boundS)} s (send ${fmt(f.sendS)} s; verdicts ${JSON.stringify(f.verdicts)})`,
        ]),
        ['failed write attempts / HTTP 429 answers (none injected)', `${failedWrites} / ${status429}`],
        ['aggregator metrics: write failures / conflicts', `${writeFailures} / ${conflicts}`],
      ],
      targets: [
        {
          what: `aggregator VmRSS with ${n} nodes' reports stored`,
          target: `≤ ${TARGET_RSS_MIB} MiB`,
          measured: `${fmt(rssStored)} MiB (peak ${fmt(rssMax)})`,
          met: rssStored <= TARGET_RSS_MIB,
          limitedBy: `the process is already ${memAtStart === null ? 'n/a' : fmt(mib(memAtStart.rssKiB))} MiB before any report, with the informer's ${n} Node objects cached (V8 heap ${fmt(heapAtStart)} MiB) on a ~${fmt(mib(clientRss))} MiB baseline (Node + @kubernetes/client-node); the stored reports and evaluations (one facts object per node, shared by report and result) and V8's old-generation headroom (capped by --max-old-space-size in the Deployment) add the rest. The informer already caches a slim copy of each Node (metadata, taints, conditions, runtime version); most of the rest is the ~${fmt(mib(clientRss))} MiB that importing @kubernetes/client-node costs before any work, which the reconciliation requirements keep (all Kubernetes calls go through it)`,
        },
        {
          what: 'writes caused by a full round of unchanged reports',
          target: '0',
          measured: String(unchangedWrites.total),
          met: unchangedWrites.total === 0,
        },
        {
          what: 'Node writes per node whose verdict changed',
          target: `≤ ${TARGET_WRITES_PER_CHANGE}`,
          measured: `${fmt(nodeWritesPerChange, 2)} (${medianFlip ? kinds({ ...medianFlip.writes, byKind: Object.fromEntries(Object.entries(medianFlip.writes.byKind).filter(([k]) => !k.endsWith(' events'))) }) : 'n/a'})`,
          met: nodeWritesPerChange <= TARGET_WRITES_PER_CHANGE,
          limitedBy:
            'the Node patch (labels, taint, annotations) and the nodes/status patch (the condition lives in the status subresource, which a patch of the Node object cannot change) are two requests',
        },
        {
          what: 'Events per node whose verdict changed (besides the Node writes)',
          target: '1 (required: an Event on the node for every verdict transition)',
          measured: `${fmt(eventsPerChange, 2)} (all writes together: ${fmt(perChange, 2)} per node)`,
          met: Math.abs(eventsPerChange - 1) < 0.01,
          limitedBy: 'one Event per transition, as the reconciliation issue requires',
        },
        {
          what: `convergence after flipping ${flipCount} nodes at --qps ${QPS}`,
          target: 'close to the bound (writes − burst) / QPS; ≤ 1.5× it',
          measured: `${fmt(convergeS)} s vs bound ${fmt(boundS)} s (${fmt(convergeS / boundS, 2)}×)`,
          met: convergeS <= boundS * 1.5,
          limitedBy: 'the round itself takes time to send from the same 2 cores; the bound ignores it',
        },
        {
          what: 'no 429 storm, no retries beyond injected faults',
          target: '0 failed writes, 0 × 429',
          measured: `${failedWrites} failed, ${status429} × 429, ${conflicts} conflicts`,
          met: failedWrites === 0 && status429 === 0,
        },
      ],
      notes: [],
    };
  } finally {
    await server?.stop();
    await emu.close();
    await sleep(10);
    await rm(dir, { recursive: true, force: true });
  }
}
