// The one check in front of every read: an onRequest hook asking the configured ReadAccess (auth/
// read-access.ts) about the request's bearer token. 401 without or with a bad token, 403 when the identity
// may not read, 503 with Retry-After when the decision cannot be made now. Registered on the read API's
// encapsulated context (routes/read-api.ts) and on /metrics.
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ReadAccess, ReadTarget } from '../auth/read-access.js';
import { bearerToken } from '../auth/staged.js';
import { errorBody } from './errors.js';

export function readAccessHook(access: ReadAccess, target: ReadTarget): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const decision = await access.check(bearerToken(request.headers.authorization), target);
    if (decision.ok) return;
    request.log.debug({ status: decision.status, reason: decision.reason, target }, 'read refused');
    if (decision.status === 401) reply.header('www-authenticate', 'Bearer');
    if (decision.status === 503) reply.header('retry-after', String(decision.retryAfterSeconds ?? 5));
    await reply.code(decision.status).send(errorBody(decision.status, decision.reason));
  };
}

/** Every route registered after this in `app`'s context documents the bearer requirement in OpenAPI. */
export function documentBearer(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: [{ readBearer: [] }] };
  });
}
