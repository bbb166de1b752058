// The read routes of the REST API (GET /api/v1/nodes, /api/v1/nodes/{name}, /api/v1/summary,
// /api/v1/spec, /api/v1/guard), registered in one encapsulated context: the read access hook added here
// applies to all of them and to nothing else (not to the reports route, the health probes, metrics or the
// OpenAPI document). Each answer carries an ETag, and If-None-Match gets 304 (etag.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { ReadAccess } from '../../auth/read-access.js';
import { conditionalGets } from '../etag.js';
import { documentBearer, readAccessHook } from '../read-access-hook.js';
import { guardRoutes } from './guard.js';
import { type NodeRoutesOptions, nodeRoutes } from './nodes.js';
import { type SpecRoutesOptions, specRoutes } from './spec.js';
import { type SummaryRoutesOptions, summaryRoutes } from './summary.js';

export type ReadApiOptions = NodeRoutesOptions &
  SummaryRoutesOptions &
  SpecRoutesOptions & { readAccess: ReadAccess };

export const readApiRoutes: FastifyPluginAsync<ReadApiOptions> = async (app, options) => {
  const { store, kubernetes, evaluator, specError, readAccess } = options;
  app.addHook('onRequest', readAccessHook(readAccess, 'api'));
  documentBearer(app);
  conditionalGets(app);
  await app.register(nodeRoutes, { store, kubernetes });
  await app.register(summaryRoutes, { store, kubernetes, evaluator, specError });
  await app.register(specRoutes, { evaluator });
  await app.register(guardRoutes, { kubernetes });
};
