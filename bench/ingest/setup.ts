// What the ingest benchmark and its profiler share: the emulator with N nodes and one signed
// ServiceAccount token per node, the report template, the shared-token file, and the three servers
// (bare fastify, the aggregator with ServiceAccount tokens, the aggregator with a shared token).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { failingCheckIds } from '../../spec/failing-checks.js';
import { loadSpec } from '../../spec/load.js';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { httpGet, sleep, waitFor } from '../lib/proc.js';
import { fixtureFacts, makeReport, nodeName } from '../lib/reports.js';
import { type RunOptions, type ServerChild, startAggregator, startBareServer } from '../lib/servers.js';
import { COLLECTED_AT_PLACEHOLDER, type LoadJob, NODE_PLACEHOLDER } from './load-job.js';

export const AGENT_SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
export const AUDIENCE = 'osmo-node-validator';
export const SHARED_TOKEN = 'bench-shared-token-0123456789abcdef';

export type ConfigId = 'bare' | 'serviceaccount' | 'shared';
export const CONFIGS: readonly ConfigId[] = ['bare', 'serviceaccount', 'shared'];
export const LABEL: Record<ConfigId, string> = {
  bare: 'bare fastify (JSON parse only)',
  serviceaccount: 'aggregator, ServiceAccount token',
  shared: 'aggregator, shared token',
};

export interface IngestSetup {
  n: number;
  dir: string;
  emu: K8sEmulator;
  nodes: string[];
  /** One signed ServiceAccount token per node, bound to it. */
  tokens: string[];
  template: string;
  /** The aggregator's 202 body for the template's report (the bare route answers the same). */
  answer: Record<string, unknown>;
  kubeconfig: string;
  tokenFile: string;
  close(): Promise<void>;
}

export async function prepareIngest(n: number): Promise<IngestSetup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-ingest-'));
  const emu = await startK8sEmulator({ maxLogEntries: 1000 });
  const sample = await fixtureFacts('ubuntu2204-gpu-pass');
  const report = makeReport(sample, NODE_PLACEHOLDER);
  const template = JSON.stringify({ ...report, collectedAt: COLLECTED_AT_PLACEHOLDER });
  const nodes = Array.from({ length: n }, (_, i) => nodeName(i + 1));
  emu.nodes.putMany(nodes.map((name) => makeNode(name)));
  const tokens = nodes.map((nodeName) =>
    emu.tokens.issue({
      // Signed by the emulator's issuer key, valid for a day: the aggregator verifies it locally first.
      expiresAt: Date.now() + 86_400_000,
      serviceAccount: AGENT_SA,
      audiences: [AUDIENCE],
      nodeName,
    }),
  );
  const result = createSpecEvaluator(await loadSpec()).evaluate(report, undefined);
  const answer = {
    node: report.node,
    role: result.role,
    verdict: result.verdict,
    failingChecks: failingCheckIds(result.checks),
    evaluatedAt: result.evaluatedAt,
  };
  const kubeconfig = await emu.writeKubeconfigFile(dir);
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, `${SHARED_TOKEN}\n`);
  return {
    n,
    dir,
    emu,
    nodes,
    tokens,
    template,
    answer,
    kubeconfig,
    tokenFile,
    close: async () => {
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The aggregator's arguments for a configuration (besides what startAggregator always passes). */
export function aggregatorArgs(id: Exclude<ConfigId, 'bare'>, setup: IngestSetup): string[] {
  if (id === 'shared') return ['--token-file', setup.tokenFile];
  // The reconciler writes (the warm-up labels every node; the bench waits for it), so the timed runs see
  // the steady state of a converged cluster. Write and TokenReview rate limits raised: the warm-up sends
  // every node's first report at once, which a fleet spread over its report interval does not.
  return [
    '--kubeconfig',
    setup.kubeconfig,
    '--qps',
    '10000',
    '--burst',
    '10000',
    '--token-review-qps',
    '10000',
    '--token-review-burst',
    String(setup.n),
  ];
}

export function startServer(id: ConfigId, setup: IngestSetup, run: RunOptions = {}): Promise<ServerChild> {
  return id === 'bare' ? startBareServer(setup.answer, run) : startAggregator(aggregatorArgs(id, setup), run);
}

/** A load job against a server: the setup's nodes, with the configuration's tokens. */
export function loadJob(
  id: ConfigId,
  url: string,
  setup: IngestSetup,
  base: Pick<LoadJob, 'connections' | 'durationS'> & Partial<LoadJob>,
): LoadJob {
  return {
    url,
    template: setup.template,
    nodes: setup.nodes,
    tokens: id === 'serviceaccount' ? setup.tokens : [SHARED_TOKEN],
    ...base,
  };
}

/** After the warm-up: the reconciler has written every node (no write for 2 s, queue empty). */
export async function settled(setup: IngestSetup, server: ServerChild): Promise<number> {
  let last = -1;
  let stableSince = performance.now();
  await waitFor(
    'the reconciler to write every node after the warm-up',
    async () => {
      const writes = setup.emu.writes();
      if (writes !== last) {
        last = writes;
        stableSince = performance.now();
        return false;
      }
      const metrics = (await httpGet(`${server.url}/metrics`)).body;
      const depth = /^osmo_validator_reconcile_queue_depth (\d+)/m.exec(metrics)?.[1];
      return depth === '0' && performance.now() - stableSince >= 2000;
    },
    180_000,
    250,
  );
  await sleep(0);
  return last;
}
