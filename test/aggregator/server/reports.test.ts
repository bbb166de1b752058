import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedTokenAuthenticator } from '../../../aggregator/auth/shared-token.js';
import { auth, makeApp, postReport, sampleReport, type TestApp, TOKEN, tokenFile } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

async function nodeNames(app: TestApp['app']): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: '/api/v1/nodes' });
  return (res.json() as { nodes: Array<{ name: string }> }).nodes.map((n) => n.name);
}

describe('POST /api/v1/reports with a shared token', () => {
  it('rejects a missing token with 401 before reading the body', async () => {
    t = await makeApp();
    const res = await postReport(t.app, sampleReport(), {});
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'missing bearer token',
    });
    expect(res.headers['www-authenticate']).toBe('Bearer');
    // Auth is decided in onRequest: even an unparseable body gets 401, not 400.
    const garbage = await postReport(t.app, '{not json', {});
    expect(garbage.statusCode).toBe(401);
    expect(await nodeNames(t.app)).toEqual([]);
  });

  it('rejects a wrong token with 401 and a right one is accepted with 202', async () => {
    t = await makeApp();
    const wrong = await postReport(t.app, sampleReport(), auth('not-the-token'));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toBe('invalid bearer token');
    const basic = await postReport(t.app, sampleReport(), { authorization: `Basic ${TOKEN}` });
    expect(basic.statusCode).toBe(401);
    expect(await nodeNames(t.app)).toEqual([]);

    const ok = await postReport(t.app, sampleReport('node-a'));
    expect(ok.statusCode).toBe(202);
    expect(ok.json()).toMatchObject({ node: 'node-a', role: 'compute', verdict: 'pass', failingChecks: [] });
    expect(await nodeNames(t.app)).toEqual(['node-a']);
    expect(t.sink.updates.map((u) => [u.node, u.verdict, u.stale])).toEqual([['node-a', 'pass', false]]);
  });

  it('re-reads the token file when it changes', async () => {
    const file = tokenFile('first-token');
    t = await makeApp({ authenticator: new SharedTokenAuthenticator({ file, recheckMs: 0 }) });
    expect((await postReport(t.app, sampleReport(), auth('first-token'))).statusCode).toBe(202);
    writeFileSync(file, 'second-token-which-is-longer\n');
    expect((await postReport(t.app, sampleReport(), auth('first-token'))).statusCode).toBe(401);
    expect((await postReport(t.app, sampleReport(), auth('second-token-which-is-longer'))).statusCode).toBe(
      202,
    );
  });
});

describe('POST /api/v1/reports input validation', () => {
  const cases: Array<{ name: string; body: unknown; status: number; message: RegExp }> = [
    { name: 'malformed JSON', body: '{"node": "a",', status: 400, message: /not valid JSON/ },
    { name: 'empty body', body: '', status: 400, message: /empty/ },
    { name: 'a JSON array', body: '[]', status: 400, message: /^body must be object$/ },
    {
      name: 'a number sent as a string',
      body: (() => {
        const r = sampleReport() as unknown as { facts: { memory: { totalBytes: unknown } } };
        r.facts.memory.totalBytes = '68719476736';
        return r;
      })(),
      status: 400,
      message: /^body\/facts\/memory\/totalBytes must be integer$/,
    },
    {
      name: 'a negative size',
      body: (() => {
        const r = sampleReport();
        r.facts.disks[0]!.freeBytes = -1;
        return r;
      })(),
      status: 400,
      message: /^body\/facts\/disks\/0\/freeBytes must be >= 0$/,
    },
    {
      name: 'NaN (not JSON, so sent as a string)',
      body: JSON.stringify(sampleReport()).replace('"logicalCores":16', '"logicalCores":NaN'),
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a fractional core count',
      body: (() => {
        const r = sampleReport();
        r.facts.cpu!.logicalCores = 1.5;
        return r;
      })(),
      status: 400,
      message: /^body\/facts\/cpu\/logicalCores must be integer$/,
    },
    {
      name: 'a string where an object or null belongs',
      body: { ...sampleReport(), facts: { ...sampleReport().facts, gpu: 'none' } },
      status: 400,
      message: /^body\/facts\/gpu must be object or null$/,
    },
    {
      name: 'an unknown top-level field',
      body: { ...sampleReport(), extra: true },
      status: 400,
      message: /^body\/extra is not allowed \(unknown field\)$/,
    },
    {
      name: 'an unknown nested field',
      body: (() => {
        const r = sampleReport() as unknown as { facts: { os: Record<string, unknown> } };
        r.facts.os['codename'] = 'jammy';
        return r;
      })(),
      status: 400,
      message: /^body\/facts\/os\/codename is not allowed \(unknown field\)$/,
    },
    {
      name: 'a missing field',
      body: (() => {
        const { agentVersion: _, ...rest } = sampleReport();
        return rest;
      })(),
      status: 400,
      message: /^body\/agentVersion is required$/,
    },
    {
      name: 'a wrong schema version',
      body: { ...sampleReport(), schemaVersion: 2 },
      status: 400,
      message: /^body\/schemaVersion must be 1$/,
    },
    {
      name: 'an invalid node name',
      body: sampleReport('Node_A'),
      status: 400,
      message: /^body\/node is not a valid node name: a node name is a DNS-1123 subdomain \(lowercase/,
    },
    {
      name: 'a bad collectedAt',
      body: { ...sampleReport(), collectedAt: 'yesterday' },
      status: 400,
      message: /^body\/collectedAt must match format "date-time"$/,
    },
    {
      name: 'a __proto__ key',
      body: JSON.stringify(sampleReport()).replace(
        '{"schemaVersion"',
        '{"__proto__":{"polluted":1},"schemaVersion"',
      ),
      status: 400,
      message: /forbidden "__proto__"/,
    },
    {
      name: 'a __proto__ key spelled with a \\u escape',
      body: JSON.stringify(sampleReport()).replace(
        '{"schemaVersion"',
        '{"\\u005f_proto__":{"polluted":1},"schemaVersion"',
      ),
      status: 400,
      message: /forbidden "__proto__"/,
    },
    {
      name: 'a constructor.prototype key spelled with \\u escapes',
      body: JSON.stringify(sampleReport()).replace(
        '{"schemaVersion"',
        '{"\\u0063onstructor":{"\\u0070rototype":{"polluted":1}},"schemaVersion"',
      ),
      status: 400,
      message: /forbidden/,
    },
    {
      name: 'a constructor.prototype key',
      body: JSON.stringify(sampleReport()).replace(
        '{"schemaVersion"',
        '{"constructor":{"prototype":{"polluted":1}},"schemaVersion"',
      ),
      status: 400,
      message: /forbidden/,
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} with ${c.status} and changes no state`, async () => {
      t = await makeApp();
      expect((await postReport(t.app, sampleReport('existing'))).statusCode).toBe(202);
      const before = await nodeNames(t.app);
      const res = await postReport(t.app, c.body);
      expect(res.statusCode).toBe(c.status);
      const body = res.json() as { statusCode: number; error: string; message: string };
      expect(body.statusCode).toBe(c.status);
      expect(body.error).toBe('Bad Request');
      expect(body.message).toMatch(c.message);
      expect(await nodeNames(t.app)).toEqual(before);
      expect(t.sink.updates).toHaveLength(1);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });
  }

  it('rejects a body over 1 MiB with 413', async () => {
    t = await makeApp();
    const big = { ...sampleReport(), agentVersion: 'x'.repeat(1024 * 1024 + 10) };
    const res = await postReport(t.app, big);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(await nodeNames(t.app)).toEqual([]);
  });

  it('rejects another content type with 415', async () => {
    t = await makeApp();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/yaml']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/reports',
        headers: { ...auth(), 'content-type': type },
        payload: JSON.stringify(sampleReport()),
      });
      expect(res.statusCode, type).toBe(415);
      expect(res.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    }
    expect(await nodeNames(t.app)).toEqual([]);
  });

  it('accepts application/json with a charset', async () => {
    t = await makeApp();
    const res = await postReport(t.app, sampleReport(), {
      ...auth(),
      'content-type': 'application/json; charset=utf-8',
    });
    expect(res.statusCode).toBe(202);
  });

  it('counts accepted and rejected reports by reason in /metrics', async () => {
    t = await makeApp();
    await postReport(t.app, sampleReport());
    await postReport(t.app, sampleReport(), {});
    await postReport(t.app, '{');
    await postReport(t.app, { ...sampleReport(), x: 1 });
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/reports',
      headers: { ...auth(), 'content-type': 'text/plain' },
      payload: 'hi',
    });
    await postReport(t.app, { ...sampleReport(), agentVersion: 'x'.repeat(1024 * 1024) });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/^osmo_validator_reports_accepted_total 1$/m);
    for (const reason of ['auth', 'malformed', 'schema', 'content-type', 'too-large']) {
      expect(text).toMatch(
        new RegExp(`^osmo_validator_reports_rejected_total\\{reason="${reason}"\\} 1$`, 'm'),
      );
    }
    expect(text).toMatch(/^osmo_validator_reports_rejected_total\{reason="forbidden"\} 0$/m);
    expect(text).toMatch(/^osmo_validator_nodes\{role="compute",verdict="pass"\} 1$/m);
    expect(text).toMatch(/^osmo_validator_stale_nodes 0$/m);
    expect(text).toMatch(/^osmo_validator_evaluation_duration_seconds_count 1$/m);
    expect(text).toMatch(
      /^osmo_validator_http_request_duration_seconds_count\{route="\/api\/v1\/reports",method="POST",status="202"\} 1$/m,
    );
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });
});

it('times every response by its route pattern, method and status, and requests matching no route as unmatched', async () => {
  t = await makeApp();
  await postReport(t.app, sampleReport());
  await postReport(t.app, sampleReport(), {});
  await t.app.inject({ method: 'GET', url: '/api/v1/nodes/no-such-node' });
  await t.app.inject({ method: 'GET', url: '/api/v1/nodes/no-such-node' });
  await t.app.inject({ method: 'HEAD', url: '/healthz' });
  await t.app.inject({ method: 'GET', url: '/docs/json' });
  await t.app.inject({ method: 'GET', url: '/no/such/path' });
  await t.app.inject({ method: 'DELETE', url: '/api/v1/reports' });
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const count = (route: string, method: string, status: number) => {
    const line = `osmo_validator_http_request_duration_seconds_count{route="${route}",method="${method}",status="${status}"} `;
    const found = text.split('\n').find((l) => l.startsWith(line));
    return found === undefined ? 0 : Number(found.slice(line.length));
  };
  expect(count('/api/v1/reports', 'POST', 202)).toBe(1);
  expect(count('/api/v1/reports', 'POST', 401)).toBe(1);
  expect(count('/api/v1/nodes/:name', 'GET', 404)).toBe(2);
  expect(count('/healthz', 'HEAD', 200)).toBe(1);
  expect(count('/docs/json', 'GET', 200)).toBe(1);
  expect(count('unmatched', 'GET', 404)).toBe(1);
  expect(count('unmatched', 'DELETE', 404)).toBe(1);
});

describe('rejected reports in the log', () => {
  function capturedLogger() {
    const lines: Array<Record<string, unknown> & { level: number; msg: string }> = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    return { logger: pino({ level: 'debug' }, stream), lines };
  }
  const INFO = 30;
  const DEBUG = 20;

  it('a flood of bad reports is one info summary per window with counts by reason, each rejection at debug', async () => {
    const { logger, lines } = capturedLogger();
    t = await makeApp({ logger, rejectionSummaryMs: 100 });
    const app = t.app;
    const flood: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) flood.push(postReport(app, sampleReport(), auth('forged-token')));
      else if (i % 3 === 1) flood.push(postReport(app, sampleReport('Bad_Name')));
      else flood.push(postReport(app, '{"not json'));
    }
    await Promise.all(flood);
    const summaries = () => lines.filter((l) => l.msg === 'reports rejected (summary)');
    await vi.waitFor(() => expect(summaries()).toHaveLength(1), { timeout: 3000, interval: 20 });
    expect(summaries()[0]).toMatchObject({
      level: INFO,
      refused: { auth: 100, schema: 100, malformed: 100 },
      total: 300,
    });
    const each = lines.filter((l) => l.msg === 'report rejected');
    expect(each).toHaveLength(300);
    expect(each.every((l) => l.level === DEBUG)).toBe(true);
    expect(each.find((l) => l['reason'] === 'schema')).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^body\/node is not a valid node name/),
      client: '127.0.0.1',
    });
    expect(each.find((l) => l['reason'] === 'auth')).toMatchObject({
      status: 401,
      message: 'invalid bearer token',
    });
    // A name that is not a node name is not repeated into the log (the message says why).
    expect(each.find((l) => l['reason'] === 'schema')?.['node']).toBeUndefined();
    // The only info lines are summaries: none per request.
    expect(lines.filter((l) => l.level >= INFO).map((l) => l.msg)).toEqual(['reports rejected (summary)']);

    // A rejection after the window: its count is logged at shutdown, not lost.
    await postReport(app, sampleReport(), {});
    await app.close();
    t = undefined;
    expect(summaries()).toHaveLength(2);
    expect(summaries()[1]).toMatchObject({ refused: { auth: 1 }, total: 1 });
  });
});
