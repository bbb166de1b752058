// Property-based fuzzing of POST /api/v1/reports, in-process (app.inject). An independent oracle (ajv with
// the options the server declares, over the same report schema) says whether a body is acceptable; every
// other body must get a 4xx with a reason, the evaluator must never run for it, and nothing is stored.
// The properties together send more than 10,000 bodies.

import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../../aggregator/server/app.js';
import { Report } from '../../report/schema.js';
import { makeApp, postReport, sampleReport, type TestApp } from '../aggregator/harness.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
addFormats(ajv);
const schemaValid = ajv.compile(Report);

const SEED = 20250601;
let sent = 0;
let t: TestApp;
let evaluatorCalls: () => number;

beforeAll(async () => {
  t = await makeApp();
  // One known-good node, so "state unchanged" is checked against a non-empty store.
  expect((await postReport(t.app, sampleReport('existing'))).statusCode).toBe(202);
  evaluatorCalls = () => (t.evaluator as unknown as { calls: number }).calls;
});
afterAll(async () => {
  await t.app.close();
});

type Expected = 202 | 400 | 413;

/** What the server must answer, decided without the server. */
function oracle(text: string): Expected {
  if (Buffer.byteLength(text, 'utf8') > BODY_LIMIT_BYTES) return 413;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 400;
  }
  return schemaValid(value) ? 202 : 400;
}

/** Sends one body; asserts status, reason and (for rejections) that nothing was evaluated or stored. */
async function check(text: string): Promise<void> {
  const expected = oracle(text);
  const calls = evaluatorCalls();
  const updates = t.sink.updates.length;
  const size = t.store.size();
  const existing = JSON.stringify(t.store.get('existing')?.report);
  sent++;
  const res = await postReport(t.app, text);
  if (res.statusCode !== expected) {
    throw new Error(`expected ${expected}, got ${res.statusCode} ${res.body} for ${text.slice(0, 300)}`);
  }
  if (expected === 202) return;
  const body = res.json() as { statusCode?: unknown; message?: unknown };
  expect(body.statusCode).toBe(expected);
  expect(typeof body.message === 'string' && body.message.length > 0).toBe(true);
  expect(evaluatorCalls()).toBe(calls);
  expect(t.sink.updates.length).toBe(updates);
  expect(t.store.size()).toBe(size);
  expect(JSON.stringify(t.store.get('existing')?.report)).toBe(existing);
  // Prototype pollution would show on every object.
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
}

// ---- arbitraries ----

const POISON_KEYS = ['__proto__', 'constructor', 'prototype', 'polluted', 'toString', 'hasOwnProperty'];

const weirdString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '-1', '0x10', '../../etc/passwd', 'a\nb', ' '),
  fc.integer({ min: 257, max: 5000 }).map((n) => 'x'.repeat(n)),
);

const weirdNumber = fc.oneof(
  fc.integer({ min: -(2 ** 40), max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0.5, 2 ** 53, 2 ** 64, -1e308, 1_000_001),
);

const deepNest = fc.integer({ min: 1, max: 300 }).chain((depth) =>
  fc.constantFrom<'array' | 'object'>('array', 'object').map((kind) => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
    return v;
  }),
);

const poisonObject = fc
  .tuple(fc.constantFrom(...POISON_KEYS), fc.jsonValue({ maxDepth: 2 }))
  .map(([k, v]) => JSON.parse(`{${JSON.stringify(k)}:${JSON.stringify(v)}}`) as unknown);

const badValue: fc.Arbitrary<unknown> = fc.oneof(
  weirdString,
  weirdNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.constant({}),
  poisonObject,
  deepNest,
);

/** Every path to a value inside a JSON tree (objects and arrays). */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

type Container = Record<string | number, unknown>;

function containerAt(root: unknown, path: Array<string | number>): Container | undefined {
  let cur: unknown = root;
  for (const p of path) cur = (cur as Container)[p];
  return cur && typeof cur === 'object' ? (cur as Container) : undefined;
}

/** A valid report with a GPU, Jetson, registries and probe errors filled in: more places to mutate. */
function richReport(): ReturnType<typeof sampleReport> {
  const r = sampleReport('fuzz-node');
  r.facts.gpu = {
    driverVersion: '535.216.03',
    cudaVersion: '12.2',
    devices: [
      { name: 'NVIDIA A100', uuid: 'GPU-1', memoryMiB: 81559, pciBusId: '0000:01:00.0', migMode: null },
    ],
    containerToolkit: { binary: 'nvidia-ctk', version: '1.17.0' },
  };
  r.facts.jetson = {
    l4tVersion: '36.4.3',
    jetpackVersion: '6.2',
    jetpackPackageVersion: null,
    cudaVersion: '12.6',
    board: 'generic',
  };
  r.facts.registries = [
    {
      host: 'nvcr.io',
      endpoint: 'nvcr.io',
      reachable: true,
      dnsResolved: true,
      httpStatus: 401,
      latencyMs: 12.5,
      error: null,
    },
  ];
  r.facts.apiServerEncryption = {
    manifestFound: true,
    encryptionConfigPath: '/etc/k/enc.yaml',
    firstProvider: 'aescbc',
    enabled: true,
  };
  r.probeErrors = [{ probe: 'dns', kind: 'timeout', message: 'slow' }];
  return r;
}

type Mutation =
  | { op: 'replace'; pick: number; value: unknown }
  | { op: 'delete'; pick: number }
  | { op: 'add'; pick: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: badValue }),
  fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({
    op: fc.constant('add' as const),
    pick: fc.nat(),
    key: fc.oneof(fc.constantFrom(...POISON_KEYS), fc.string({ maxLength: 12 })),
    value: badValue,
  }),
);

/** Applies mutations to a fresh rich report and serialises it (poison keys kept as own keys in the text). */
function mutate(mutations: Mutation[]): string {
  const root: unknown = structuredClone(richReport());
  for (const m of mutations) {
    const all = paths(root).filter((p) => p.length > 0);
    if (all.length === 0) break;
    const path = all[m.pick % all.length]!;
    const parent = containerAt(root, path.slice(0, -1));
    if (!parent) continue;
    const last = path[path.length - 1]!;
    if (m.op === 'replace') parent[last] = m.value;
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else {
      const target = containerAt(root, path) ?? parent;
      if (Array.isArray(target)) target.push(m.value);
      // defineProperty: an own "__proto__" key, as JSON text would carry it.
      else
        Object.defineProperty(target, m.key, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
  }
  return JSON.stringify(root);
}

const TOKENS = [
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  '1e999',
  '-1',
  '"',
  '{',
  ']',
  ',',
  '\u0000',
  '\ud800',
];

const textMutation = fc.oneof(
  // A raw token (NaN, Infinity, ...) in place of a number.
  fc.tuple(fc.nat(), fc.constantFrom(...TOKENS)).map(([pick, token]) => {
    const text = JSON.stringify(richReport());
    const numbers = [...text.matchAll(/:(-?\d+(?:\.\d+)?)/g)];
    const m = numbers[pick % numbers.length]!;
    const at = (m.index ?? 0) + 1;
    return text.slice(0, at) + token + text.slice(at + m[1]!.length);
  }),
  // Truncated anywhere.
  fc.nat().map((n) => {
    const text = JSON.stringify(richReport());
    return text.slice(0, n % text.length);
  }),
  // A random character inserted anywhere.
  fc.tuple(fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([n, s]) => {
    const text = JSON.stringify(richReport());
    const at = n % text.length;
    return text.slice(0, at) + s + text.slice(at);
  }),
  // Not an object at all.
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

// Thousands of requests per property: on a loaded 2-core machine a property takes well over vitest's default.
describe('POST /api/v1/reports under fuzzing (fast-check, seeded)', { timeout: 180_000 }, () => {
  it('random JSON documents: 4xx with a reason, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (v) => check(JSON.stringify(v) ?? 'null')),
      { numRuns: 1500, seed: SEED },
    );
  });

  it('structurally mutated reports (wrong types, huge strings, deep nesting, poison keys, negative sizes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => check(mutate(ms))),
      { numRuns: 5000, seed: SEED + 1 },
    );
  });

  it('textually mutated reports (NaN/Infinity as text, truncation, stray bytes)', async () => {
    await fc.assert(
      fc.asyncProperty(textMutation, async (text) => check(text)),
      { numRuns: 3000, seed: SEED + 2 },
    );
  });

  it('reports whose string fields carry arbitrary unicode: accepted only when the schema allows', async () => {
    const stringPaths = paths(richReport()).filter((p) => {
      const parent = containerAt(richReport(), p.slice(0, -1));
      return p.length > 0 && typeof parent?.[p[p.length - 1]!] === 'string';
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.string({ unit: 'grapheme', maxLength: 300 }), async (pick, s) => {
        const root = richReport() as unknown;
        const path = stringPaths[pick % stringPaths.length]!;
        containerAt(root, path.slice(0, -1))![path[path.length - 1]!] = s;
        await check(JSON.stringify(root));
      }),
      { numRuns: 500, seed: SEED + 3 },
    );
  });

  it('extreme bodies: 200,000-deep nesting, just over the size limit, poison keys at the top', async () => {
    for (const text of [
      `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
      `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
      JSON.stringify({ ...richReport(), agentVersion: 'x'.repeat(BODY_LIMIT_BYTES) }),
      JSON.stringify(richReport()).replace('{', '{"__proto__":{"polluted":true},'),
      JSON.stringify(richReport()).replace('{', '{"constructor":{"prototype":{"polluted":true}},'),
      JSON.stringify(richReport()).replace('"facts":{', '"facts":{"__proto__":{"polluted":true},'),
    ]) {
      await check(text);
    }
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(sent).toBeGreaterThanOrEqual(10_000);
  });
});
