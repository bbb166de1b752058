// GET /api/v1/summary: node counts by verdict and by role, and (with Kubernetes) the cluster-level checks.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorMessage } from '../../../report/error-message.js';
import { CheckResult, ROLES, type Role } from '../../../report/schema.js';
import type { KubernetesIntegration } from '../../contracts.js';
import type { NodeStore } from '../../store.js';

export interface SummaryRoutesOptions {
  store: NodeStore;
  /** Runs the cluster-level checks; null when standalone (no cluster checks). */
  kubernetes: Pick<KubernetesIntegration, 'clusterChecks' | 'guard'> | null;
}

const VerdictCounts = Type.Object({
  total: Type.Integer(),
  pass: Type.Integer(),
  warn: Type.Integer(),
  fail: Type.Integer(),
  unknown: Type.Integer(),
  stale: Type.Integer(),
});

const Summary = Type.Object({
  total: Type.Integer(),
  stale: Type.Integer(),
  byVerdict: VerdictCounts,
  byRole: Type.Object({
    'control-plane': VerdictCounts,
    operator: VerdictCounts,
    compute: VerdictCounts,
    gpu: VerdictCounts,
    jetson: VerdictCounts,
  }),
  clusterChecks: Type.Array(CheckResult),
  /** Transitions the mass-change guard holds (details: GET /api/v1/guard). */
  guardHeld: Type.Integer(),
  generatedAt: Type.String({ format: 'date-time' }),
});

type Counts = { total: number; pass: number; warn: number; fail: number; unknown: number; stale: number };
const zeroCounts = (): Counts => ({ total: 0, pass: 0, warn: 0, fail: 0, unknown: 0, stale: 0 });

export const summaryRoutes: FastifyPluginAsync<SummaryRoutesOptions> = async (app, { store, kubernetes }) => {
  app.get(
    '/api/v1/summary',
    {
      schema: {
        summary: 'Counts by role and verdict, and the cluster-level checks',
        response: { 200: Summary },
      },
    },
    async (request) => {
      const now = Date.now();
      const { byVerdict, byRole } = countNodes(store, now);
      let clusterChecks: CheckResult[] = [];
      if (kubernetes) {
        try {
          clusterChecks = await kubernetes.clusterChecks(store.states(now));
        } catch (err) {
          request.log.error({ err }, 'cluster checks failed');
          clusterChecks = [clusterChecksError(err)];
        }
      }
      return {
        total: byVerdict.total,
        stale: byVerdict.stale,
        byVerdict,
        byRole,
        clusterChecks,
        guardHeld: kubernetes?.guard().held.length ?? 0,
        generatedAt: new Date().toISOString(),
      };
    },
  );
};

/** Every reported node and every other node of the cluster (unknown), counted by verdict and by role. */
function countNodes(store: NodeStore, now: number): { byVerdict: Counts; byRole: Record<Role, Counts> } {
  const byRole = Object.fromEntries(ROLES.map((r) => [r, zeroCounts()])) as Record<Role, Counts>;
  const byVerdict = zeroCounts();
  for (const v of [...store.list(now), ...store.unreportedNodes()]) {
    for (const c of [byVerdict, byRole[v.role]]) {
      c.total++;
      c[v.verdict]++;
      if (v.stale) c.stale++;
    }
  }
  return { byVerdict, byRole };
}

function clusterChecksError(err: unknown): CheckResult {
  return {
    id: 'cluster.checks',
    status: 'error',
    observed: null,
    expected: null,
    message: `cluster checks could not run: ${errorMessage(err)}`,
    remediation: null,
    source: null,
  };
}
