// GET /api/v1/guard: the mass-change guard's settings and the transitions it holds (each node keeps its
// previous condition, conformant label and taint until the hold ends), with how to release them.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { KubernetesIntegration } from '../../contracts.js';
import { RoleEnum, StringEnum } from '../schemas.js';

export interface GuardRoutesOptions {
  /** Null when standalone (nothing is written, nothing is held). */
  kubernetes: Pick<KubernetesIntegration, 'guard'> | null;
}

export const HeldTransitionSchema = Type.Object({
  node: Type.String(),
  role: RoleEnum,
  from: StringEnum(['False', 'none'] as const),
  to: StringEnum(['True', 'Unknown'] as const),
  reason: Type.String(),
  message: Type.String(),
  since: Type.String({ format: 'date-time' }),
});

const GuardBody = Type.Object({
  maxPercent: Type.Number(),
  windowMs: Type.Integer(),
  acceptAnnotation: Type.String(),
  release: Type.String(),
  held: Type.Array(HeldTransitionSchema),
});

export const guardRoutes: FastifyPluginAsync<GuardRoutesOptions> = async (app, { kubernetes }) => {
  app.get(
    '/api/v1/guard',
    {
      schema: {
        summary: 'The transitions the mass-change guard holds',
        description:
          'A node newly turning BaselineNotMet=True or Unknown is held when, within the window, more than ' +
          'maxPercent of its role (and at least two nodes) would: it keeps its previous condition, label ' +
          'and taint. A spec reload that would flip more than the share is staged here the same way.',
        response: { 200: GuardBody },
      },
    },
    async () => {
      const status = kubernetes?.guard() ?? {
        maxPercent: 0,
        windowMs: 0,
        acceptAnnotation: '',
        held: [],
      };
      return { ...status, release: releaseHint(status.acceptAnnotation) };
    },
  );
};

export function releaseHint(annotation: string): string {
  if (annotation === '') return 'standalone: nothing is written to Kubernetes';
  return (
    'a hold ends when the share falls back (fix the nodes or the spec) or when accepted: ' +
    `kubectl annotate --overwrite node NAME ${annotation}=$(date -u +%Y-%m-%dT%H:%M:%SZ) ` +
    '(or -l SELECTOR for several nodes); holds that began before that time are written'
  );
}
