// check's output formats and check selection: --output json carries totals, --output junit is JUnit XML
// that an XML parser reads back check by check (fail → failure, error → error, skip → skipped), --json is
// --output json, and --checks / --skip-checks select the spec's checks (an unknown id: exit 2, named).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { run } from '../../agent/check-command.js';
import { checkTotals, renderJunit, xmlEscape } from '../../agent/check-output.js';
import type { CheckResult, NodeResult } from '../../report/schema.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { captureIo } from '../helpers/io.js';

async function check(host: string, extra: string[] = []) {
  const io = captureIo({}, false);
  const code = await run(['--host-root', fixtureHostPath(host), '--registries', 'none', ...extra], io);
  return { code, out: io.out(), err: io.err() };
}

type Totals = Record<CheckResult['status'], number>;

interface JunitCase {
  '@_name': string;
  '@_classname': string;
  failure?: { '@_message': string; '#text': string };
  error?: { '@_message': string; '#text': string };
  skipped?: { '@_message': string };
  'system-out'?: string;
}

function parseJunit(xml: string) {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' }).parse(xml);
  return doc.testsuites as {
    '@_tests': string;
    '@_failures': string;
    '@_errors': string;
    '@_skipped': string;
    testsuite: { testcase: JunitCase[]; properties: { property: { '@_name': string; '@_value': string }[] } };
  };
}

describe('--output json', () => {
  it('adds totals by status that add up to the checks; --json is the same document', async () => {
    const a = await check('gpu-old-driver', ['--output', 'json']);
    const doc = JSON.parse(a.out) as NodeResult & { totals: Totals };
    const counted: Totals = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
    for (const c of doc.checks) counted[c.status]++;
    expect(doc.totals).toEqual(counted);
    expect(doc.totals.fail).toBeGreaterThan(0);
    expect(a.code).toBe(1);
    const b = await check('gpu-old-driver', ['--json']);
    const alias = JSON.parse(b.out) as NodeResult & { totals: Totals };
    expect(alias.totals).toEqual(doc.totals);
    expect(alias.checks).toEqual(doc.checks);
  });

  it('--json with another --output is an error', async () => {
    const r = await check('bare', ['--json', '--output', 'junit']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--json is --output json: it contradicts --output junit/);
    expect((await check('bare', ['--output', 'xml'])).code).toBe(2);
  });
});

describe('--output junit', () => {
  it('one testcase per check, failures, errors and skips as JUnit has them, totals on the suites', async () => {
    const json = JSON.parse((await check('gpu-old-driver', ['--json'])).out) as NodeResult;
    const r = await check('gpu-old-driver', ['--output', 'junit']);
    expect(r.code).toBe(1);
    const suites = parseJunit(r.out);
    const cases = suites.testsuite.testcase;
    expect(cases.map((c) => c['@_name'])).toEqual(json.checks.map((c) => c.id));
    const t = checkTotals(json.checks);
    expect(suites).toMatchObject({
      '@_tests': String(json.checks.length),
      '@_failures': String(t.fail),
      '@_errors': String(t.error),
      '@_skipped': String(t.skip),
    });
    for (const [i, c] of json.checks.entries()) {
      const tc = cases[i] as JunitCase;
      expect(tc['@_classname']).toBe(`osmo-node-validator.${json.role}`);
      expect(tc.failure !== undefined, c.id).toBe(c.status === 'fail');
      expect(tc.error !== undefined, c.id).toBe(c.status === 'error');
      expect(tc.skipped !== undefined, c.id).toBe(c.status === 'skip');
      if (c.status === 'fail') {
        expect(tc.failure?.['@_message']).toBe(c.message);
        expect(tc.failure?.['#text']).toContain(`expected: ${c.expected ?? '-'}`);
      }
      if (c.status === 'warn') expect(tc['system-out']).toContain(c.message);
    }
    const props = Object.fromEntries(
      suites.testsuite.properties.property.map((p) => [p['@_name'], p['@_value']]),
    );
    expect(props).toMatchObject({ node: json.node, role: json.role, verdict: json.verdict });
  });

  it('escapes what XML needs escaped, and drops what XML cannot carry', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const check: CheckResult = {
      id: 'x.y',
      status: 'error',
      observed: '<&>',
      expected: null,
      message: 'broke "here" \u0007',
      remediation: null,
      source: null,
    };
    const result = {
      node: 'n',
      role: 'compute',
      roleSource: 'flag',
      verdict: 'fail',
      checks: [check],
      probeErrors: [],
      spec: { name: 's', revision: '1' },
      evaluatedAt: 'now',
    } as unknown as NodeResult;
    const suites = parseJunit(renderJunit(result));
    expect(suites.testsuite.testcase[0]?.error?.['@_message']).toBe('broke "here"'); // the parser trims
    expect(suites.testsuite.testcase[0]?.error?.['#text']).toContain('observed: <&>');
  });
});

describe('--checks and --skip-checks', () => {
  it('--checks runs only the named checks; the verdict and exit status follow them', async () => {
    const all = JSON.parse((await check('gpu-old-driver', ['--json'])).out) as NodeResult;
    const passing = all.checks.filter((c) => c.status === 'pass').map((c) => c.id);
    expect(passing.length).toBeGreaterThan(1);
    const r = await check('gpu-old-driver', ['--json', '--checks', passing.slice(0, 2).join(',')]);
    const only = JSON.parse(r.out) as NodeResult & { totals: Totals };
    expect(only.checks.map((c) => c.id)).toEqual(passing.slice(0, 2));
    expect(only.verdict).toBe('pass');
    expect(only.totals.pass).toBe(2);
    expect(r.code).toBe(0);
  });

  it('--skip-checks leaves the named checks out', async () => {
    const all = JSON.parse((await check('gpu-old-driver', ['--json'])).out) as NodeResult;
    const failing = all.checks.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => c.id);
    expect(failing.length).toBeGreaterThan(0);
    const r = await check('gpu-old-driver', ['--json', '--skip-checks', failing.join(',')]);
    const rest = JSON.parse(r.out) as NodeResult;
    expect(rest.checks.map((c) => c.id)).toEqual(
      all.checks.map((c) => c.id).filter((id) => !failing.includes(id)),
    );
    expect(r.code).toBe(0);
  });

  it('an unknown check id is exit 2 naming it, before any probing', async () => {
    for (const flag of ['--checks', '--skip-checks']) {
      const r = await check('bare', [flag, 'gpu.driver,gpu.drivr']);
      expect(r.code, flag).toBe(2);
      expect(r.err).toMatch(new RegExp(`${flag}: no check "gpu\\.drivr" in spec`));
      expect(r.out).toBe('');
    }
    expect((await check('bare', ['--checks', 'a,,b'])).code).toBe(2);
  });
});
