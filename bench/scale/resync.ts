// Part 4: the periodic resync at scale. The reconciler (in process, through the real client) manages N
// nodes of the Kubernetes API emulator, all already in their desired state; then one full resync walk runs
// (a short period, so the bench does not wait 5 minutes: the work per node does not depend on the period).
// Measured: the API requests the walk causes (goal: 0 writes, no GET — reads come from the informer's
// cache), the nodes visited and the CPU time the walk costs.
import { Registry } from 'prom-client';
import type { NodeState } from '../../aggregator/contracts.js';
import { makeNames } from '../../aggregator/k8s/names.js';
import { createKubernetesIntegration } from '../../aggregator/kubernetes-integration.js';
import type { NodeResult } from '../../report/schema.js';
import { makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { sleep, waitFor } from '../lib/proc.js';
import { nodeName } from '../lib/reports.js';
import type { BenchOptions, PartResult } from '../lib/result.js';
import { fmt } from '../lib/stats.js';

const PERIOD_MS = 10_000;

function passState(node: string): NodeState {
  const result: NodeResult = {
    node,
    role: 'gpu',
    roleSource: 'flag',
    verdict: 'pass',
    facts: {
      hostname: null,
      cpu: null,
      memory: null,
      disks: [],
      os: null,
      gpu: { driverVersion: '535.216.03', cudaVersion: '12.2', devices: [], containerToolkit: null },
      jetson: null,
      containerd: { version: '1.7.27', raw: 'containerd v1.7.27' },
      registries: null,
      dns: null,
      apiServerEncryption: null,
    },
    probeErrors: [],
    checks: [],
    collectedAt: new Date().toISOString(),
    evaluatedAt: new Date().toISOString(),
    spec: { name: 'osmo-onprem', revision: '1' },
  };
  return { node, role: 'gpu', verdict: 'pass', stale: false, result };
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };

export async function runResyncPart(opts: BenchOptions): Promise<PartResult> {
  const n = opts.quick ? 500 : 5000;
  const emu = await startK8sEmulator();
  emu.nodes.putMany(
    Array.from({ length: n }, (_, i) => makeNode(nodeName(i), { labels: { 'node-type': 'gpu' } })),
  );
  const integration = createKubernetesIntegration({
    kubeConfig: emu.kubeConfig(),
    names: makeNames(),
    registry: new Registry(),
    logger: silent,
    qps: 10_000,
    burst: 10_000,
    concurrency: 32,
    resyncMs: PERIOD_MS,
  });
  try {
    await integration.start();
    opts.log(`resync: seeding ${n} nodes`);
    for (let i = 0; i < n; i++) integration.sink.update(passState(nodeName(i)));
    await integration.idle(600_000);
    await waitFor('the informer', () => integration.cluster.nodeNames().length === n, 60_000);
    // Let the seeding writes' watch events settle, then observe one full walk (and a bit).
    await sleep(2000);
    emu.reset();
    const cpu0 = process.cpuUsage();
    await sleep(PERIOD_MS + 1000);
    const cpu = process.cpuUsage(cpu0);
    const writes = emu.writes();
    const gets = emu.requestsBy('GET', /^\/api\/v1\/nodes\/[^/]+$/).length;
    const other = emu.requests.filter((r) => !(r.method === 'GET' && r.query['watch'] === 'true')).length;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    opts.log(`resync: ${writes} writes, ${gets} GETs, ${other} non-watch requests, ${fmt(cpuMs, 0)} ms CPU`);
    return {
      id: 'resync',
      title: 'Periodic resync',
      method: [
        `- ${n} nodes of the emulator, all reported \`pass\` and written first; then the request log is cleared ` +
          `and one full resync walk runs (period ${PERIOD_MS / 1000} s here, 5 min by default: each node is ` +
          'visited once per period, spread over it).',
        '- Reconciler in the bench process, through @kubernetes/client-node; CPU time is the whole process over the walk (emulator included).',
      ],
      rows: [
        ['nodes', String(n)],
        ['writes during the walk', String(writes)],
        ['GET node during the walk', String(gets)],
        ['API requests besides the open watch', String(other)],
        ['CPU time of the walk (bench process)', `${fmt(cpuMs, 0)} ms`],
      ],
      targets: [
        {
          what: `writes during a resync of ${n} unchanged nodes`,
          target: '0',
          measured: String(writes),
          met: writes === 0,
        },
        {
          what: `reads during a resync of ${n} unchanged nodes`,
          target: '0 GETs (the informer cache)',
          measured: `${gets} GETs, ${other} requests besides the watch`,
          met: gets === 0,
        },
      ],
      notes: [],
    };
  } finally {
    await integration.stop();
    await emu.close();
  }
}
