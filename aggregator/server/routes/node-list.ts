// The body of GET /api/v1/nodes: one row per known node, with what a fleet table shows (verdict, failing
// checks, the versions that decide most checks, our taint and condition as written on the cluster), and
// with `check=<id>` the nodes failing that check with its observed and expected values.
import { type Static, Type } from '@sinclair/typebox';
import { failingCheckIds, isFailingStatus } from '../../../spec/failing-checks.js';
import type { KubernetesIntegration, WrittenNodeState } from '../../contracts.js';
import type { NodeStore, NodeView } from '../../store.js';
import { FailingChecks, NodeVerdictSchema, RoleEnum, StringEnum } from '../schemas.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);

/** Our taint and condition on the Node as the informer's cache shows them. */
export const WrittenSchema = Type.Union(
  [
    Type.Object({
      taint: Type.Union([
        Type.Object({ key: Type.String(), value: Type.Optional(Type.String()), effect: Type.String() }),
        Type.Null(),
      ]),
      condition: Type.Union([
        Type.Object({
          type: Type.String(),
          status: Type.String(),
          reason: Type.Optional(Type.String()),
          message: Type.Optional(Type.String()),
        }),
        Type.Null(),
      ]),
    }),
    Type.Null(),
  ],
  {
    description:
      'Our taint and condition on the Node as written; null standalone or for a Node not in the cache.',
  },
);

const Versions = Type.Object({
  driver: NullableString,
  cuda: NullableString,
  jetpack: NullableString,
  containerd: NullableString,
});

const CheckOutcome = Type.Object({
  status: Type.String(),
  observed: NullableString,
  expected: NullableString,
});

export const NodeListItem = Type.Object({
  name: Type.String(),
  role: RoleEnum,
  /** `unknown` when stale. */
  verdict: NodeVerdictSchema,
  failingChecks: FailingChecks,
  /**
   * null for a node of the cluster that has not reported to this process and whose condition has no
   * heartbeat (verdict unknown, with the reason).
   */
  lastReportAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  stale: Type.Boolean(),
  /** Why the verdict is `unknown`: `never reported`, `stale since …`. */
  reason: Type.Optional(Type.String()),
  /** From the latest report's facts; all null for a node that has not reported to this process. */
  versions: Versions,
  written: WrittenSchema,
  /** With `check=<id>`: that check's outcome on this node. */
  check: Type.Optional(CheckOutcome),
});

export const NodeListQuery = Type.Object(
  {
    verdict: Type.Optional(NodeVerdictSchema),
    role: Type.Optional(RoleEnum),
    stale: Type.Optional(StringEnum(['true', 'false'] as const)),
    check: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  },
  { additionalProperties: false },
);

export const NodeList = Type.Object({ nodes: Type.Array(NodeListItem), total: Type.Integer() });

type Item = Static<typeof NodeListItem>;
type Written = Pick<KubernetesIntegration, 'written'> | null;

const NO_VERSIONS: Item['versions'] = { driver: null, cuda: null, jetpack: null, containerd: null };

function versionsOf(view: NodeView): Item['versions'] {
  const f = view.result.facts;
  return {
    driver: f.gpu?.driverVersion ?? null,
    cuda: f.gpu?.cudaVersion ?? f.jetson?.cudaVersion ?? null,
    jetpack: f.jetson?.jetpackVersion ?? null,
    containerd: f.containerd?.version ?? null,
  };
}

export function writtenOf(kubernetes: Written, node: string): WrittenNodeState | null {
  return kubernetes?.written(node) ?? null;
}

function reportedItem(view: NodeView, kubernetes: Written, check: string | undefined): Item | undefined {
  const item: Item = {
    name: view.name,
    role: view.role,
    verdict: view.verdict,
    failingChecks: failingCheckIds(view.result.checks),
    lastReportAt: view.lastReportAt,
    stale: view.stale,
    versions: versionsOf(view),
    written: writtenOf(kubernetes, view.name),
    ...(view.stale ? { reason: `stale since ${view.lastReportAt}` } : {}),
  };
  if (check === undefined) return item;
  const c = view.result.checks.find((x) => x.id === check);
  if (!c || !isFailingStatus(c.status)) return undefined;
  item.check = { status: c.status, observed: c.observed, expected: c.expected };
  return item;
}

/** Reported nodes and every other node of the cluster (verdict unknown, with the reason), filtered, sorted by name. */
export function listNodes(
  store: NodeStore,
  kubernetes: Written,
  query: Static<typeof NodeListQuery>,
): Static<typeof NodeList> {
  const { verdict, role, stale, check } = query;
  const reported: Item[] = [];
  for (const view of store.list()) {
    const item = reportedItem(view, kubernetes, check);
    if (item) reported.push(item);
  }
  // Every other node of the cluster (from the informer): verdict unknown, with the reason. They have no
  // check results, so a `check` filter leaves them out.
  const unreported: Item[] =
    check === undefined
      ? store.unreportedNodes().map((n) => ({
          ...n,
          failingChecks: [],
          versions: NO_VERSIONS,
          written: writtenOf(kubernetes, n.name),
        }))
      : [];
  const nodes = [...reported, ...unreported]
    .filter(
      (n) =>
        (verdict === undefined || n.verdict === verdict) &&
        (role === undefined || n.role === role) &&
        (stale === undefined || n.stale === (stale === 'true')),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { nodes, total: nodes.length };
}
