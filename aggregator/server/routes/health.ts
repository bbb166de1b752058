// GET /healthz (liveness: the process answers) and GET /readyz (readiness: the spec is loaded, with
// Kubernetes the node informer has synced, and any further condition the command adds). Both stay open.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { KubernetesIntegration } from '../../contracts.js';
import { errorBody } from '../errors.js';
import type { ReportEvaluator } from '../evaluator.js';
import { ErrorBody } from '../schemas.js';

export interface Readiness {
  ok: boolean;
  reason?: string | undefined;
}

export interface HealthRoutesOptions {
  evaluator: Pick<ReportEvaluator, 'spec'>;
  kubernetes: Pick<KubernetesIntegration, 'ready' | 'guard'> | null;
  /** Further readiness conditions (e.g. the TLS bootstrap has a certificate); read at every request. */
  readiness: ReadonlyArray<() => Readiness>;
  /** Why the spec file on disk is not the one in force, or null (see AppDeps.specError). */
  specError: (() => string | null) | undefined;
}

const Health = Type.Object({ status: Type.String() });
const ReadinessBody = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });
const ReadyBody = Type.Object({
  ...ReadinessBody.properties,
  specError: Type.Optional(Type.String()),
  /** Set while the mass-change guard holds transitions (ready all the same: the guard is working). */
  guard: Type.Optional(Type.String()),
});

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  app.get('/healthz', { schema: { summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the spec is loaded and, with Kubernetes, the node informer has synced',
        description:
          '200 `ready`, or 200 `degraded` with `specError` while a changed spec file is invalid or ' +
          'unreadable (the last good spec stays in force and reports are still accepted); 503 when not ready.',
        response: {
          200: ReadyBody,
          503: { ...ErrorBody, properties: { ...ErrorBody.properties, ...ReadinessBody.properties } },
        },
      },
    },
    async (_request, reply) => {
      const notReady = firstNotReady(options);
      if (notReady) {
        const reason = notReady.reason ?? 'not ready';
        return reply.code(503).send({ ...errorBody(503, reason), status: 'not ready', reason });
      }
      const specError = options.specError?.() ?? null;
      const held = options.kubernetes?.guard().held.length ?? 0;
      const guard = held > 0 ? { guard: `holding ${held} node transition(s); see GET /api/v1/guard` } : {};
      return specError === null ? { status: 'ready', ...guard } : { status: 'degraded', specError, ...guard };
    },
  );
};

/** The first readiness condition that does not hold, in order: spec, Kubernetes, the further ones. */
function firstNotReady({ evaluator, kubernetes, readiness }: HealthRoutesOptions): Readiness | null {
  const checks: Array<() => Readiness> = [
    () => (evaluator.spec ? { ok: true } : { ok: false, reason: 'spec not loaded' }),
    ...(kubernetes ? [() => kubernetes.ready()] : []),
    ...readiness,
  ];
  for (const check of checks) {
    const r = check();
    if (!r.ok) return r;
  }
  return null;
}
