// The OpenAPI document's frame (info, servers, security schemes) and its finishing pass over what
// @fastify/swagger generates from the route schemas: an operationId for every operation, the security each
// one really has, the Retry-After header of a report's 503, and the schema forms OpenAPI 3.0 has — a
// TypeBox union of string literals (anyOf of const) becomes an `enum`, a union with null `nullable`.
// Routes keep their schemas for validation; only the published document is rewritten.

type Json = Record<string, unknown>;

export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'osmo-node-validator aggregator',
    description: 'Reports from node agents, their evaluation against the OSMO on-prem baseline, and status.',
    version: '1',
    license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
  },
  servers: [
    { url: '/', description: 'the aggregator serving this document' },
    {
      url: 'https://osmo-node-validator.osmo-node-validator.svc',
      description: 'in the cluster, through the Service of the base manifests',
    },
  ],
  components: {
    securitySchemes: {
      bearer: {
        type: 'http' as const,
        scheme: 'bearer',
        description:
          "An agent's projected ServiceAccount token (audience osmo-node-validator), bound to the node it " +
          'reports for; standalone, the shared --token-file token. Not needed with --no-auth.',
      },
      readBearer: {
        type: 'http' as const,
        scheme: 'bearer',
        description:
          'A bearer token for the read API (GET /api/v1/*), when the aggregator is configured to require ' +
          'one; otherwise reads are open (the empty alternative in each read operation).',
      },
    },
  },
};

/** operationId by `METHOD path`; a route not listed gets one made from its method and path. */
const OPERATION_IDS: Record<string, string> = {
  'POST /api/v1/reports': 'submitReport',
  'GET /api/v1/nodes': 'listNodes',
  'GET /api/v1/nodes/{name}': 'getNode',
  'GET /api/v1/summary': 'getSummary',
  'GET /api/v1/spec': 'getSpec',
  'GET /healthz': 'getLiveness',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'GET /openapi.json': 'getOpenApiDocument',
};

function operationId(method: string, path: string): string {
  const known = OPERATION_IDS[`${method.toUpperCase()} ${path}`];
  if (known) return known;
  const words = path
    .split(/[^A-Za-z0-9{}]+/)
    .filter(Boolean)
    .map((w) => (w.startsWith('{') ? `By${w.slice(1, -1)}` : w))
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return `${method.toLowerCase()}${words.join('')}`;
}

/**
 * Who may call: agents (`bearer`: reports), readers (`readBearer`: the read API and /metrics; open only with
 * --read-open / --metrics-open), anyone (health, readiness, the document itself).
 */
function security(method: string, path: string): Json[] {
  if (method === 'post' && path === '/api/v1/reports') return [{ bearer: [] }];
  if (path.startsWith('/api/v1/') || path === '/metrics') return [{ readBearer: [] }];
  return [];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** TypeBox's JSON Schema forms that OpenAPI 3.0 lacks, rewritten in place, everywhere in `node`. */
export function toOpenApi30Schema(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) toOpenApi30Schema(item);
    return;
  }
  if (!isObject(node)) return;
  for (const value of Object.values(node)) toOpenApi30Schema(value);
  const anyOf = node['anyOf'];
  if (!Array.isArray(anyOf)) {
    if ('const' in node) {
      node['enum'] = [node['const']];
      delete node['const'];
    }
    return;
  }
  const options = anyOf.filter(isObject);
  // `{ type: 'null' }`, or what a child pass (or @fastify/swagger) already made of it: `{ nullable, enum: [null] }`.
  const isNull = (o: Json) =>
    o['type'] === 'null' || (Array.isArray(o['enum']) && o['enum'].length === 1 && o['enum'][0] === null);
  const nonNull = options.filter((o) => !isNull(o));
  const nullable = nonNull.length < options.length;
  const literals = nonNull.every((o) => Array.isArray(o['enum']) && o['type'] === 'string');
  if (nonNull.length > 0 && literals) {
    delete node['anyOf'];
    Object.assign(node, { type: 'string', enum: nonNull.flatMap((o) => o['enum'] as unknown[]) });
  } else if (nullable && nonNull.length === 1) {
    delete node['anyOf'];
    Object.assign(node, nonNull[0]);
  } else if (nullable) {
    node['anyOf'] = nonNull;
  } else {
    return;
  }
  if (nullable) node['nullable'] = true;
}

const RETRY_AFTER = {
  description:
    "Seconds to wait before sending the report again (the TokenReview budget, the API server, or the aggregator's --token-file).",
  schema: { type: 'integer', minimum: 1 },
};

/** Every operation: its id and security; a 4xx response where it has none; Retry-After on a report's 503. */
function finishOperation(method: string, path: string, op: Json, errorResponse: unknown): void {
  op['operationId'] ??= operationId(method, path);
  op['security'] = security(method, path);
  const responses = isObject(op['responses']) ? op['responses'] : {};
  op['responses'] = responses;
  if (!Object.keys(responses).some((code) => code.startsWith('4'))) {
    // Fastify itself answers 400 on any route for a request it cannot parse (a malformed URL).
    responses['4XX'] = {
      description: 'A client error, e.g. a malformed request URL: the error document',
      ...(isObject(errorResponse) && isObject(errorResponse['content'])
        ? { content: errorResponse['content'] }
        : {}),
    };
  }
  const unavailable = responses['503'];
  if (method === 'post' && path === '/api/v1/reports' && isObject(unavailable)) {
    unavailable['headers'] = { 'Retry-After': RETRY_AFTER };
  }
}

/** The document @fastify/swagger generated, finished (see the header); its transformObject calls this. */
export function finishDocument<D extends object>(document: D): D {
  const doc = document as Json;
  toOpenApi30Schema(doc);
  const paths = isObject(doc['paths']) ? doc['paths'] : {};
  const errorResponse = (isObject(paths['/api/v1/reports']) &&
    isObject(paths['/api/v1/reports']['post']) &&
    isObject(paths['/api/v1/reports']['post']['responses']) &&
    paths['/api/v1/reports']['post']['responses']['400']) as unknown;
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (isObject(op) && ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method))
        finishOperation(method, path, op, errorResponse);
    }
  }
  return doc as D;
}
