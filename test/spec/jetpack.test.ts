// The L4T → JetPack table is spec data applied at evaluation: the agent reports the L4T release, the spec
// in force names the JetPack release, an edit of the table changes the verdict of the very same facts,
// and what an older agent still sends in jetpackVersion is replaced by the table's answer.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNvTegraRelease } from '../../agent/probes/jetson.js';
import type { Facts, JetsonFacts, NodeResult } from '../../report/schema.js';
import { evaluate } from '../../spec/evaluate.js';
import { evaluatedFacts, jetpackTable } from '../../spec/jetpack.js';
import { BUILTIN_SPEC_URL, loadSpec, parseSpec, type Spec, SpecError } from '../../spec/load.js';
import { validateSpec } from '../../spec/validate.js';
import { buildFacts, jetsonFacts } from './facts-builder.js';

let baselineText: string;
let baseline: Spec;
beforeAll(async () => {
  baselineText = await readFile(fileURLToPath(BUILTIN_SPEC_URL), 'utf8');
  baseline = await loadSpec();
});

const real = (name: string) => readFile(new URL(`../fixtures/real/jetson/${name}`, import.meta.url), 'utf8');

function jetsonHost(jetson: JetsonFacts): Facts {
  return buildFacts({ cpu: { arch: 'arm64', logicalCores: 12, physicalCores: null, model: null }, jetson });
}

function evaluateJetson(facts: Facts, spec: Spec): NodeResult {
  return evaluate({ node: 'orin-1', facts, probeErrors: [], collectedAt: '2025-06-01T11:59:00.000Z' }, spec, {
    role: 'jetson',
    source: 'flag',
  });
}

function jetpackCheck(result: NodeResult) {
  const c = result.checks.find((x) => x.id === 'jetson.jetpack');
  if (!c) throw new Error('no jetson.jetpack check');
  return c;
}

/** The baseline's text with its table entry for `l4t` replaced (or a new entry added). */
function withEntry(l4t: string, jetpack: string): string {
  const line = new RegExp(`^  "${l4t.replaceAll('.', '\\.')}": .*$`, 'm');
  const entry = `  "${l4t}": "${jetpack}"`;
  return line.test(baselineText)
    ? baselineText.replace(line, entry)
    : baselineText.replace('l4tToJetpack:\n', `l4tToJetpack:\n${entry}\n`);
}

describe("the baseline's table", () => {
  it.each([
    ['nv_tegra_release_R36.4.3_JetPack6.2_boxcutter.txt', '6.2'],
    ['nv_tegra_release_R36.4.4_JetPack6.2.1_boxcutter.txt', '6.2.1'],
    ['nv_tegra_release_R35.4.1_JetPack5.1.2_boxcutter.txt', '5.1.2'],
  ])('names the JetPack release of a real %s', async (file, jetpack) => {
    const { l4tVersion, board } = parseNvTegraRelease(await real(file));
    const result = evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion, board })), baseline);
    expect(result.facts.jetson?.jetpackVersion).toBe(jetpack);
    expect(jetpackCheck(result).observed).toBe(jetpack);
  });

  it('holds every release it was given, and nothing else', () => {
    expect(baseline.l4tToJetpack).toEqual({
      '36.3.0': '6.0',
      '36.4.0': '6.1',
      '36.4.3': '6.2',
      '36.4.4': '6.2.1',
      '36.4.7': '6.2.1',
      '36.5.0': '6.2.2',
      '38.2.0': '7.0',
      '38.2.1': '7.0',
      '38.2.2': '7.0',
      '38.4.0': '7.1',
      '35.4.1': '5.1.2',
      '35.5.0': '5.1.3',
      '35.6.0': '5.1.4',
      '32.7.1': '4.6.1',
      '32.7.3': '4.6.3',
    });
  });
});

describe('a table edit changes the verdict of the same report', () => {
  it('adding an unknown L4T release turns warn into pass; remapping a release turns pass into fail', () => {
    // One facts object, as an agent reports it (no jetpackVersion), evaluated against three specs.
    const facts = jetsonHost(jetsonFacts({ l4tVersion: '36.4.3' }));
    const unknownFacts = jetsonHost(jetsonFacts({ l4tVersion: '36.9.1' }));
    expect(facts.jetson).not.toHaveProperty('jetpackVersion');

    const before = evaluateJetson(unknownFacts, baseline);
    expect(jetpackCheck(before)).toMatchObject({ status: 'warn', observed: 'L4T 36.9.1' });
    expect(before.verdict).toBe('warn');
    const added = evaluateJetson(unknownFacts, parseSpec(withEntry('36.9.1', '6.3'), 'edited.yaml'));
    expect(jetpackCheck(added)).toMatchObject({ status: 'pass', observed: '6.3' });
    expect(added.facts.jetson?.jetpackVersion).toBe('6.3');
    expect(added.verdict).toBe('pass');

    expect(evaluateJetson(facts, baseline).verdict).toBe('pass');
    const remapped = evaluateJetson(facts, parseSpec(withEntry('36.4.3', '6.1'), 'edited.yaml'));
    expect(jetpackCheck(remapped)).toMatchObject({ status: 'fail', observed: '6.1' });
    expect(remapped.verdict).toBe('fail');
  });
});

describe('an L4T release the table does not list', () => {
  it('older than the oldest release carrying the required JetPack fails; only a newer one warns', () => {
    // R35.3.1 (JetPack 5.1.1) is not in the table; 36.4.3 is the oldest L4T with JetPack ≥ 6.2.
    const r35 = evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: '35.3.1' })), baseline);
    expect(jetpackCheck(r35)).toMatchObject({
      status: 'fail',
      observed: 'L4T 35.3.1',
      message: expect.stringContaining(
        'L4T 35.3.1 is older than L4T 36.4.3, the oldest release with JetPack ≥ 6.2',
      ),
    });
    expect(
      jetpackCheck(evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: '36.4.2' })), baseline)).status,
    ).toBe('fail');
    expect(
      jetpackCheck(evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: '36.9.1' })), baseline)).status,
    ).toBe('warn');
  });
});

describe('older agents that still send jetpackVersion', () => {
  it('are evaluated by the table in force, not by what they sent', () => {
    const claimed = jetsonHost(jetsonFacts({ l4tVersion: '36.4.3', jetpackVersion: '9.9' }));
    const r = evaluateJetson(claimed, baseline);
    expect(r.facts.jetson?.jetpackVersion).toBe('6.2');
    expect(jetpackCheck(r)).toMatchObject({ status: 'pass', observed: '6.2' });

    // An L4T release the table does not know: unknown, whatever the old agent's own table said.
    const stale = jetsonHost(jetsonFacts({ l4tVersion: '36.9.1', jetpackVersion: '6.2' }));
    const s = evaluateJetson(stale, baseline);
    expect(s.facts.jetson?.jetpackVersion).toBeNull();
    expect(jetpackCheck(s).status).toBe('warn');
  });

  it('the facts object is kept when the answer is the same (no Jetson, or the same release)', () => {
    const table = jetpackTable(baseline.l4tToJetpack);
    const plain = buildFacts();
    expect(evaluatedFacts(plain, table)).toBe(plain);
    const same = jetsonHost(jetsonFacts({ l4tVersion: '36.4.3', jetpackVersion: '6.2' }));
    expect(evaluatedFacts(same, table)).toBe(same);
    const fresh = jetsonHost(jetsonFacts({ l4tVersion: '36.4.3' }));
    const derived = evaluatedFacts(fresh, table);
    expect(derived).not.toBe(fresh);
    expect(derived.jetson).toEqual({ ...fresh.jetson, jetpackVersion: '6.2' });
    expect(fresh.jetson).not.toHaveProperty('jetpackVersion');
  });

  it('a Jetson known only by its SoC (no L4T release) has no JetPack release', () => {
    const r = evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: null })), baseline);
    expect(r.facts.jetson?.jetpackVersion).toBeNull();
    expect(jetpackCheck(r)).toMatchObject({ status: 'warn', observed: 'L4T unknown' });
  });
});

describe('l4tToJetpack in a spec file', () => {
  const HEAD = `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: site, revision: "1" }
checks:
  - id: jetson.jetpack
    description: JetPack
    rule: minVersion
    fact: jetson.jetpackVersion
    scheme: dotted
    severity: fail
    remediation: upgrade
    source: seed
    roles:
      jetson: { min: "6.2" }
`;

  it("absent: the built-in baseline's table; empty: no table", () => {
    expect(parseSpec(HEAD, 'site.yaml').l4tToJetpack).toEqual(baseline.l4tToJetpack);
    const none = parseSpec(`${HEAD}l4tToJetpack: {}\n`, 'site.yaml');
    expect(none.l4tToJetpack).toEqual({});
    const r = evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: '36.4.3' })), none);
    expect(r.facts.jetson?.jetpackVersion).toBeNull();
    expect(jetpackCheck(r).status).toBe('warn');
    // Validated on its own (no file), a spec has no table to fall back on.
    expect(validateSpec({ ...baseline, l4tToJetpack: undefined }, 'x').l4tToJetpack).toBeUndefined();
  });

  it('a site table replaces the built-in one', () => {
    const site = parseSpec(`${HEAD}l4tToJetpack:\n  "36.4.3": "6.2"\n`, 'site.yaml');
    expect(site.l4tToJetpack).toEqual({ '36.4.3': '6.2' });
    const r = evaluateJetson(jetsonHost(jetsonFacts({ l4tVersion: '36.3.0' })), site);
    expect(r.facts.jetson?.jetpackVersion).toBeNull();
  });

  it.each([
    ['  "36.4": "6.0"\n', 'site.yaml: l4tToJetpack.36.4: is not an L4T release'],
    ['  r36.4.3: "6.2"\n', 'site.yaml: l4tToJetpack.r36.4.3: is not an L4T release'],
    ['  "36.4.3": 6.2\n', 'site.yaml: l4tToJetpack.36.4.3: 6.2 is a YAML number; quote versions ("6.2")'],
    ['  "36.4.3": "6.2-b77"\n', 'site.yaml: l4tToJetpack.36.4.3: "6.2-b77" is not a dotted version'],
    ['  "36.4.3": ""\n', 'site.yaml: l4tToJetpack.36.4.3: "" is not a dotted version'],
  ])('refuses %j', (entry, message) => {
    let error: unknown;
    try {
      parseSpec(`${HEAD}l4tToJetpack:\n${entry}`, 'site.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).message.startsWith(message)).toBe(true);
  });

  it('refuses a table that is not a mapping', () => {
    expect(() => parseSpec(`${HEAD}l4tToJetpack: ["36.4.3"]\n`, 'site.yaml')).toThrow(
      'site.yaml: l4tToJetpack: must be a mapping, got a list',
    );
  });
});
