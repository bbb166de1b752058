// The published OpenAPI document: an operationId on every operation, security that matches the real
// auth, servers, the report's 503 with Retry-After, and only OpenAPI 3.0 schema forms (enums, nullable);
// the Swagger UI page at /docs. (Redocly's `recommended` lint is run on it by hand: see README.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toOpenApi30Schema } from '../../../aggregator/server/openapi-document.js';
import { makeApp, type TestApp } from '../harness.js';

type Json = Record<string, unknown>;
let t: TestApp;
let doc: Json & { paths: Record<string, Record<string, Json>>; components: Json; servers: Json[] };
beforeAll(async () => {
  t = await makeApp();
  doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(async () => {
  await t.app.close();
});

function operations(): Array<{ method: string; path: string; op: Json }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op })),
  );
}

/** Every schema object (anything with a type, anyOf, enum or const) in the document. */
function walk(node: unknown, visit: (n: Json, at: string) => void, at = '#'): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) walk(n, visit, `${at}/${i}`);
  } else if (typeof node === 'object' && node !== null) {
    visit(node as Json, at);
    for (const [k, v] of Object.entries(node)) walk(v, visit, `${at}/${k}`);
  }
}

describe('the OpenAPI document', () => {
  it('gives every operation a unique operationId', () => {
    const ids = operations().map((o) => o.op['operationId']);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(String(id)))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/api/v1/reports']?.['post']?.['operationId']).toBe('submitReport');
  });

  it('declares the security each operation has: agent token for reports, read token for reads and metrics, none else', () => {
    const schemes = (doc.components['securitySchemes'] ?? {}) as Record<string, Json>;
    expect(schemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes['readBearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const { method, path, op } of operations()) {
      const security = op['security'] as Json[];
      for (const requirement of security)
        for (const name of Object.keys(requirement)) expect(schemes).toHaveProperty(name);
      if (method === 'post' && path === '/api/v1/reports') expect(security).toEqual([{ bearer: [] }]);
      else if (path.startsWith('/api/v1/') || path === '/metrics')
        expect(security, path).toEqual([{ readBearer: [] }]);
      else expect(security, path).toEqual([]);
      expect(
        Object.keys(op['responses'] as Json).some((code) => code.startsWith('4')),
        path,
      ).toBe(true);
    }
  });

  it('names servers and documents Retry-After on a report refused with 503', () => {
    expect(doc.servers.length).toBeGreaterThan(0);
    const responses = (doc.paths['/api/v1/reports']?.['post']?.['responses'] ?? {}) as Record<string, Json>;
    const unavailable = responses['503'];
    expect(unavailable?.['headers']).toMatchObject({ 'Retry-After': { schema: { type: 'integer' } } });
  });

  it('has enums, not unions of constants, and no JSON Schema forms OpenAPI 3.0 lacks', () => {
    const found: string[] = [];
    walk(doc, (n, at) => {
      if ('const' in n) found.push(`${at}: const`);
      if (n['type'] === 'null') found.push(`${at}: type null`);
      if (Array.isArray(n['anyOf']) && (n['anyOf'] as Json[]).every((o) => 'enum' in o))
        found.push(`${at}: anyOf of enums`);
      if (Array.isArray(n['type'])) found.push(`${at}: type list`);
    });
    expect(found).toEqual([]);
    const verdict = JSON.stringify(doc).match(/"enum":\["pass","warn","fail"[^\]]*\]/);
    expect(verdict).not.toBeNull();
  });

  it('rewrites TypeBox forms: literal unions to enum, unions with null to nullable', () => {
    const schema: Json = {
      properties: {
        role: {
          anyOf: [
            { const: 'gpu', type: 'string' },
            { const: 'cpu', type: 'string' },
          ],
        },
        maybe: { anyOf: [{ type: 'string', maxLength: 3 }, { type: 'null' }] },
        maybeRole: { anyOf: [{ anyOf: [{ const: 'a', type: 'string' }] }, { type: 'null' }] },
        one: { const: 1, type: 'number' },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      },
    };
    toOpenApi30Schema(schema);
    expect(schema['properties']).toEqual({
      role: { type: 'string', enum: ['gpu', 'cpu'] },
      maybe: { type: 'string', maxLength: 3, nullable: true },
      maybeRole: { type: 'string', enum: ['a'], nullable: true },
      one: { enum: [1], type: 'number' },
      either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
    });
  });
});

describe('GET /docs', () => {
  it('serves the Swagger UI page for this document, and is not itself in the document', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    for (let i = 0; i < 3 && res.statusCode >= 300 && res.statusCode < 400; i++) {
      const location = String(res.headers['location']);
      res = await t.app.inject({
        method: 'GET',
        url: location.startsWith('/') ? location : `/docs/${location.replace(/^\.\//, '')}`,
      });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger-ui/i);
    const json = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual(doc);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs'))).toEqual([]);
  });
});
