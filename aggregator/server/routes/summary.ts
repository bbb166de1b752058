// GET /api/v1/summary: node counts by verdict and by role, (with Kubernetes) the cluster-level checks, and
// the spec in force with a refused reload.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorMessage } from '../../../report/error-message.js';
import { CheckResult, ROLES, type Role } from '../../../report/schema.js';
import type { KubernetesIntegration } from '../../contracts.js';
import type { NodeStore } from '../../store.js';
import type { ReportEvaluator } from '../evaluator.js';

export interface SummaryRoutesOptions {
  store: NodeStore;
  /** Runs the cluster-level checks; null when standalone (no cluster checks). */
  kubernetes: Pick<KubernetesIntegration, 'clusterChecks' | 'guard'> | null;
  /** The spec in force (its name and revision) and when it was put in force. */
  evaluator: Pick<ReportEvaluator, 'spec' | 'specLoadedAt'>;
  /** Why the spec file on disk is not the one in force (a refused reload), or null. */
  specError?: (() => string | null) | undefined;
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
  spec: Type.Object({
    name: Type.Union([Type.String(), Type.Null()]),
    revision: Type.Union([Type.String(), Type.Null()]),
    loadedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    /** Why the spec file on disk was refused (the spec above stays in force), or null. */
    reloadError: Type.Union([Type.String(), Type.Null()]),
  }),
  generatedAt: Type.String({ format: 'date-time' }),
});

type Counts = { total: number; pass: number; warn: number; fail: number; unknown: number; stale: number };
const zeroCounts = (): Counts => ({ total: 0, pass: 0, warn: 0, fail: 0, unknown: 0, stale: 0 });

export const summaryRoutes: FastifyPluginAsync<SummaryRoutesOptions> = async (app, options) => {
  const { store, kubernetes } = options;
  app.get(
    '/api/v1/summary',
    {
      schema: {
        summary: 'Counts by role and verdict, the cluster-level checks and the spec in force',
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
        spec: specInForce(options),
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

function specInForce({ evaluator, specError }: SummaryRoutesOptions) {
  const metadata = (evaluator.spec as { metadata?: { name?: unknown; revision?: unknown } } | null)?.metadata;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    name: text(metadata?.name),
    revision: text(metadata?.revision),
    loadedAt: evaluator.specLoadedAt ?? null,
    reloadError: specError?.() ?? null,
  };
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
