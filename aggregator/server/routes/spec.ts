// GET /api/v1/spec: the spec in force, as loaded (it may be replaced by a live reload between requests).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ReportEvaluator } from '../evaluator.js';

export interface SpecRoutesOptions {
  /** Read at every request: the spec in force then. */
  evaluator: Pick<ReportEvaluator, 'spec'>;
}

const SpecBody = Type.Object({}, { additionalProperties: true, description: 'The spec in force.' });

export const specRoutes: FastifyPluginAsync<SpecRoutesOptions> = async (app, { evaluator }) => {
  app.get(
    '/api/v1/spec',
    { schema: { summary: 'The spec in force', response: { 200: SpecBody } } },
    async () => evaluator.spec,
  );
};
