// One node-name grammar (report/grammars.ts, as the schema report/schema.ts's NodeNameSchema) for the
// report's `node` and for every route parameter naming a node: a name Kubernetes would refuse is a 400
// that says why, never stored, never looked up.
import { afterEach, describe, expect, it } from 'vitest';
import { DNS_SUBDOMAIN_MAX_LENGTH } from '../../../report/grammars.js';
import { makeApp, postReport, sampleReport, type TestApp } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

const label63 = 'a'.repeat(63);
/** 253 characters: three 63-character labels and a 61-character one, joined by dots. */
const longest = `${[label63, label63, label63].join('.')}.${'b'.repeat(61)}`;

const BAD_NAMES: Array<[string, string]> = [
  ['a..b', 'an empty label'],
  ['a.-b', 'a label starting with a dash'],
  ['-a', 'a leading dash'],
  ['a-', 'a trailing dash'],
  ['a.', 'a trailing dot'],
  ['Node-A', 'upper case'],
  ['node_a', 'an underscore'],
  [`${longest}c`, `${DNS_SUBDOMAIN_MAX_LENGTH + 1} characters`],
];

const WHY =
  /a node name is a DNS-1123 subdomain \(lowercase letters, digits and '-'|must NOT have more than 253 characters/;

describe('node names', () => {
  it(`the longest valid name (${longest.length} characters) dotted names and a 64-character label are accepted and found`, async () => {
    t = await makeApp();
    expect(longest).toHaveLength(DNS_SUBDOMAIN_MAX_LENGTH);
    // As Kubernetes' IsDNS1123Subdomain: no per-label limit of 63 (that is a DNS label's, not a node name's).
    for (const name of [longest, 'gpu-01.rack-3.example', '0', 'a-b', `${label63}b`]) {
      expect((await postReport(t.app, sampleReport(name))).statusCode, name).toBe(202);
      const detail = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/${name}` });
      expect(detail.statusCode, name).toBe(200);
    }
  });

  for (const [name, what] of BAD_NAMES) {
    it(`a report for a node name with ${what} (${name.slice(0, 12)}) is 400 saying why; nothing is stored`, async () => {
      t = await makeApp();
      const res = await postReport(t.app, sampleReport(name));
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/^body\/node /);
      expect(res.json().message).toMatch(WHY);
      expect(t.store.size()).toBe(0);
    });

    it(`GET /api/v1/nodes/{name} with ${what} is 400 saying why, not 404`, async () => {
      t = await makeApp();
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/${encodeURIComponent(name)}` });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.json().message).toMatch(/^params\/name /);
      expect(res.json().message).toMatch(WHY);
    });
  }

  it('a valid name no node has is still 404', async () => {
    t = await makeApp();
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/no-such-node' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/not known/);
  });
});
