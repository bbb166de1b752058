// GET /metrics: the aggregator's Prometheus registry in the text exposition format, behind the same read
// access check as the API (target `metrics`; open with --metrics-open).
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReadAccess } from '../../auth/read-access.js';
import { documentBearer, readAccessHook } from '../read-access-hook.js';

export interface MetricsRoutesOptions {
  registry: Registry;
  readAccess: ReadAccess;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, options) => {
  const { registry, readAccess } = options;
  app.addHook('onRequest', readAccessHook(readAccess, 'metrics'));
  documentBearer(app);
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  );
};
