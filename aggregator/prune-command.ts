// `prune`: remove from every node what the validator owns, and nothing else -- the labels and taints its
// managed-* annotations list (only keys under its prefix) plus the well-known names, the BaselineNotMet
// condition, and the two annotations. Every write is a JSON patch guarded by `test` operations, so a node
// that changed since it was read is re-read and re-planned instead of being clobbered. Idempotent.
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
} from '@kubernetes/client-node';
import { errorMessage } from '../report/error-message.js';
import { helpText } from '../report/flag-help.js';
import { parseFlagTable } from '../report/flag-table.js';
import { apiStatus, describeApiError } from './k8s/api-errors.js';
import { describeKubeConfigSource, loadKubeConfig } from './k8s/client.js';
import { makeNames, type Names } from './k8s/names.js';
import { listNodesInPages } from './k8s/node-pages.js';
import { PRUNE_FLAGS } from './options.js';
import { ownedKeys } from './reconcile/ownership.js';

export const HELP = helpText(PRUNE_FLAGS, {
  usage: 'osmo-node-validator prune [options]',
  about: `Removes from every node what the validator owns: its labels and taints (those listed in its
managed-labels / managed-taints annotations, plus the well-known names), the BaselineNotMet node
condition, and the two annotations. Other labels, taints and conditions are never touched.
Run it after deleting the aggregator (or it will put them back), before \`kubectl delete -k\`.`,
  footer:
    'Exit status: 0 done (or nothing to do), 1 some node could not be pruned, 2 bad arguments or no cluster.',
});

/** Attempts per node when it changed between read and write (409/422). */
const MAX_ATTEMPTS = 4;

export interface PruneIo {
  out(line: string): void;
  err(line: string): void;
  /** Where KUBECONFIG and HOME come from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface NodePlan {
  labels: string[];
  taints: string[];
  condition: string | null;
  annotations: string[];
}

type JsonPatchOp = { op: 'test' | 'remove'; path: string; value?: unknown };

function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** What the validator owns on this node (pure). */
export function planNode(node: V1Node, names: Names): NodePlan {
  const labels = node.metadata?.labels ?? {};
  const annotations = node.metadata?.annotations ?? {};
  const labelKeys = new Set([
    ...ownedKeys(annotations[names.annotations.managedLabels], names),
    ...Object.values(names.labels),
  ]);
  const taintKeys = new Set([
    ...ownedKeys(annotations[names.annotations.managedTaints], names),
    names.taintKey,
  ]);
  const conditions = node.status?.conditions ?? [];
  return {
    labels: Object.keys(labels)
      .filter((k) => labelKeys.has(k))
      .sort(),
    taints: [...new Set((node.spec?.taints ?? []).map((t) => t.key).filter((k) => taintKeys.has(k)))].sort(),
    condition: conditions.some((c) => c.type === names.conditionType) ? names.conditionType : null,
    annotations: [names.annotations.managedLabels, names.annotations.managedTaints].filter(
      (k) => k in annotations,
    ),
  };
}

function isEmpty(plan: NodePlan): boolean {
  return !plan.labels.length && !plan.taints.length && !plan.condition && !plan.annotations.length;
}

export function describePlan(plan: NodePlan): string {
  const parts: string[] = [];
  if (plan.labels.length) parts.push(`labels ${plan.labels.join(',')}`);
  if (plan.taints.length) parts.push(`taints ${plan.taints.join(',')}`);
  if (plan.condition) parts.push(`condition ${plan.condition}`);
  if (plan.annotations.length) parts.push(`annotations ${plan.annotations.join(',')}`);
  return parts.join('; ');
}

/** The metadata/spec patch; each removal is guarded so a concurrent change fails it (422) instead. */
export function metadataPatch(node: V1Node, plan: NodePlan): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const k of plan.labels) ops.push({ op: 'remove', path: `/metadata/labels/${pointerToken(k)}` });
  for (const k of plan.annotations)
    ops.push({ op: 'remove', path: `/metadata/annotations/${pointerToken(k)}` });
  // Each owned taint by index, highest first so earlier indexes stay valid; the `test` of its key makes
  // the patch fail if the list changed since it was read. (Only keys are compared: client-node turns
  // timeAdded into a Date, which would not round-trip byte for byte.)
  const drop = new Set(plan.taints);
  const taints = node.spec?.taints ?? [];
  for (let i = taints.length - 1; i >= 0; i--) {
    const key = taints[i]?.key;
    if (key === undefined || !drop.has(key)) continue;
    ops.push({ op: 'test', path: `/spec/taints/${i}/key`, value: key });
    ops.push({ op: 'remove', path: `/spec/taints/${i}` });
  }
  return ops;
}

export function statusPatch(node: V1Node, names: Names): JsonPatchOp[] {
  const i = (node.status?.conditions ?? []).findIndex((c) => c.type === names.conditionType);
  if (i < 0) return [];
  return [
    { op: 'test', path: `/status/conditions/${i}/type`, value: names.conditionType },
    { op: 'remove', path: `/status/conditions/${i}` },
  ];
}

async function listAllNodes(core: CoreV1Api): Promise<V1Node[]> {
  let nodes: V1Node[] = [];
  await listNodesInPages(
    core,
    (items) => {
      nodes.push(...items);
      return true;
    },
    {
      onRestart: () => {
        nodes = [];
      },
    },
  );
  return nodes;
}

/** Prunes one node; returns what was removed. Re-reads and re-plans when the node changed underneath. */
async function pruneNode(core: CoreV1Api, first: V1Node, names: Names): Promise<NodePlan> {
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const name = first.metadata?.name ?? '';
  const removed: NodePlan = { labels: [], taints: [], condition: null, annotations: [] };
  let node = first;
  for (let attempt = 1; ; attempt++) {
    const plan = planNode(node, names);
    if (isEmpty(plan)) return removed;
    try {
      const status = statusPatch(node, names);
      if (status.length) {
        node = await core.patchNodeStatus({ name, body: status, fieldManager: names.component }, jsonPatch);
        removed.condition = plan.condition;
      }
      const meta = metadataPatch(node, plan);
      if (meta.length) {
        node = await core.patchNode({ name, body: meta, fieldManager: names.component }, jsonPatch);
        removed.labels.push(...plan.labels);
        removed.taints.push(...plan.taints);
        removed.annotations.push(...plan.annotations);
      }
      return removed;
    } catch (e) {
      const code = apiStatus(e);
      if ((code !== 409 && code !== 422) || attempt >= MAX_ATTEMPTS) throw e;
      node = await core.readNode({ name });
    }
  }
}

export interface PruneOptions {
  kubeConfig: KubeConfig;
  names: Names;
  dryRun: boolean;
}

/** Returns the number of nodes that failed. */
export async function prune(options: PruneOptions, io: PruneIo): Promise<number> {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const nodes = await listAllNodes(core);
  let failed = 0;
  let changed = 0;
  for (const node of nodes) {
    const name = node.metadata?.name ?? '?';
    const plan = planNode(node, options.names);
    if (isEmpty(plan)) {
      io.out(`${name}: nothing to remove`);
      continue;
    }
    if (options.dryRun) {
      io.out(`${name}: would remove ${describePlan(plan)}`);
      changed += 1;
      continue;
    }
    try {
      const removed = await pruneNode(core, node, options.names);
      io.out(isEmpty(removed) ? `${name}: nothing to remove` : `${name}: removed ${describePlan(removed)}`);
      if (!isEmpty(removed)) changed += 1;
    } catch (e) {
      failed += 1;
      io.err(`${name}: FAILED (${describeApiError(e)})`);
    }
  }
  const verb = options.dryRun ? 'would prune' : 'pruned';
  io.out(`${verb} ${changed} of ${nodes.length} nodes${failed ? `, ${failed} failed` : ''}`);
  return failed;
}

function parsePruneArgs(argv: string[]) {
  const values = parseFlagTable(PRUNE_FLAGS, argv);
  if (values === 'help') return 'help';
  return {
    kubeconfig: values.kubeconfig,
    context: values.context,
    dryRun: values['dry-run'],
    names: makeNames(values['label-prefix'], values['condition-prefix']),
  };
}

export async function runPrune(argv: string[], io: PruneIo): Promise<number> {
  let options: ReturnType<typeof parsePruneArgs>;
  try {
    options = parsePruneArgs(argv);
  } catch (e) {
    io.err(`osmo-node-validator prune: ${errorMessage(e)}`);
    io.err('Run `osmo-node-validator prune --help` for the options.');
    return 2;
  }
  if (options === 'help') {
    io.out(HELP.trimEnd());
    return 0;
  }
  const { names, dryRun } = options;
  let kubeConfig: KubeConfig | null;
  const source = { file: options.kubeconfig, context: options.context, env: io.env ?? process.env };
  try {
    kubeConfig = loadKubeConfig(source);
  } catch (e) {
    io.err(`osmo-node-validator prune: cannot load ${describeKubeConfigSource(source)}: ${errorMessage(e)}`);
    return 2;
  }
  if (!kubeConfig) {
    io.err(
      'osmo-node-validator prune: no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, ' +
        'create ~/.kube/config, or run inside a pod',
    );
    return 2;
  }
  try {
    const failed = await prune({ kubeConfig, names, dryRun }, io);
    return failed > 0 ? 1 : 0;
  } catch (e) {
    io.err(`osmo-node-validator prune: cannot list nodes (${describeApiError(e)})`);
    return 1;
  }
}

export async function run(argv: string[]): Promise<number> {
  return runPrune(argv, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
