// The read routes of the REST API (GET /api/v1/nodes, /api/v1/nodes/{name}, /api/v1/summary,
// /api/v1/spec), registered in one encapsulated context: the read access hook added here applies to all
// of them and to nothing else (not to the reports route, the health probes, metrics or the OpenAPI
// document).
import type { FastifyPluginAsync } from 'fastify';
import type { ReadAccess } from '../../auth/read-access.js';
import { documentBearer, readAccessHook } from '../read-access-hook.js';
import { type NodeRoutesOptions, nodeRoutes } from './nodes.js';
import { type SpecRoutesOptions, specRoutes } from './spec.js';
import { type SummaryRoutesOptions, summaryRoutes } from './summary.js';

export type ReadApiOptions = NodeRoutesOptions &
  SummaryRoutesOptions &
  SpecRoutesOptions & { readAccess: ReadAccess };

export const readApiRoutes: FastifyPluginAsync<ReadApiOptions> = async (app, options) => {
  const { store, kubernetes, evaluator, readAccess } = options;
  app.addHook('onRequest', readAccessHook(readAccess, 'api'));
  documentBearer(app);
  await app.register(nodeRoutes, { store, kubernetes });
  await app.register(summaryRoutes, { store, kubernetes });
  await app.register(specRoutes, { evaluator });
};
