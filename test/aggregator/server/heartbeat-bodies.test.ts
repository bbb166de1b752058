// Heartbeats recognised without parsing (aggregator/server/heartbeat-bodies.ts): a remembered body with a
// new `collectedAt` becomes the remembered report with that value; any other text is left to the parser.
// The property that makes it safe: whatever the text, a recognised body is exactly what JSON.parse gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeartbeatBodies, validatingHeartbeats } from '../../../aggregator/server/heartbeat-bodies.js';
import { createSpecEvaluator } from '../../../aggregator/server/spec-evaluator.js';
import { buildSchemaCompiler } from '../../../aggregator/server/validation.js';
import { Report } from '../../../report/schema.js';
import { loadSpec } from '../../../spec/load.js';
import { auth, makeApp, postReport, sampleReport } from '../harness.js';

/** Bodies are bytes: these tests write them as text. */
class TextBodies {
  readonly bodies: HeartbeatBodies;
  constructor(max?: number) {
    this.bodies = new HeartbeatBodies(max);
  }
  remember(text: string, report: Report): void {
    this.bodies.remember(Buffer.from(text), report);
  }
  recognise(text: string): Readonly<Report> | undefined {
    return this.bodies.recognise(Buffer.from(text));
  }
  get size(): number {
    return this.bodies.size;
  }
}

function remembered(report: Report = sampleReport()) {
  const bodies = new TextBodies();
  const text = JSON.stringify(report);
  bodies.remember(text, JSON.parse(text) as Report);
  return { bodies, text, report };
}

const withValue = (text: string, from: string, to: string) =>
  text.replace(`"collectedAt":"${from}"`, `"collectedAt":"${to}"`);

describe('HeartbeatBodies', () => {
  it('recognises the last body with another collectedAt as the last report with that value', () => {
    const { bodies, text, report } = remembered();
    const next = withValue(text, report.collectedAt, '2031-06-30T12:34:56.789Z');
    expect(next).not.toBe(text);
    expect(bodies.recognise(next)).toEqual(JSON.parse(next));
    // Longer and shorter values too (the digest does not depend on the value's length).
    const short = withValue(text, report.collectedAt, '2031-06-30T12:34:56Z');
    expect(bodies.recognise(short)).toEqual(JSON.parse(short));
  });

  it('leaves any other change to the parser: a fact, the node, spacing, an extra key', () => {
    const { bodies, text } = remembered();
    expect(bodies.recognise(text.replace('"logicalCores":16', '"logicalCores":17'))).toBeUndefined();
    expect(bodies.recognise(text.replace('"Test CPU"', '"Test GPU"'))).toBeUndefined();
    expect(bodies.recognise(text.replace('"node":"node-a"', '"node":"node-b"'))).toBeUndefined();
    expect(bodies.recognise(text.replace('"collectedAt":"', '"collectedAt": "'))).toBeUndefined();
    expect(bodies.recognise(`${text.slice(0, -1)},"x":1}`)).toBeUndefined();
    expect(
      bodies.recognise(new TextBodies().recognise(text) ? '' : text.replace('node-a', 'node-c')),
    ).toBeUndefined();
  });

  it('takes only plain characters as the new value (no quote, escape, space or control character)', () => {
    const { bodies, text, report } = remembered();
    for (const bad of ['2031-01-01T00:00:00Z\\u0000', '2031-01-01 00:00:00Z', '2031\u0001', '']) {
      expect(bodies.recognise(withValue(text, report.collectedAt, bad))).toBeUndefined();
    }
  });

  it('does not remember a body it could misread: escapes, or "collectedAt" more than once', () => {
    const escaped = sampleReport('node-a', { agentVersion: '0.1.0 \\"quoted\\"' });
    const a = remembered(escaped);
    expect(a.bodies.size).toBe(0);
    const twice = sampleReport('node-a');
    const { bodies } = remembered({ ...twice, agentVersion: 'collectedAt' });
    expect(bodies.size).toBe(0);
  });

  it('forgets the oldest node past its bound', () => {
    const bodies = new TextBodies(2);
    for (const node of ['n1', 'n2', 'n3']) {
      const text = JSON.stringify(sampleReport(node));
      bodies.remember(text, JSON.parse(text) as Report);
    }
    expect(bodies.size).toBe(2);
    expect(bodies.recognise(JSON.stringify(sampleReport('n1')))).toBeUndefined();
    expect(bodies.recognise(JSON.stringify(sampleReport('n3')))).toBeDefined();
  });

  it('whatever the text, a recognised body is what JSON.parse gives (one-character edits anywhere)', () => {
    const { bodies, text } = remembered();
    fc.assert(
      fc.property(
        fc.nat(text.length - 1),
        fc.oneof(
          fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
          fc.constantFrom('\\', '"', 'é', '\u2028'),
        ),
        fc.constantFrom('replace', 'insert', 'delete'),
        (at, ch, op) => {
          const edited =
            op === 'replace'
              ? text.slice(0, at) + ch + text.slice(at + 1)
              : op === 'insert'
                ? text.slice(0, at) + ch + text.slice(at)
                : text.slice(0, at) + text.slice(at + 1);
          const known = bodies.recognise(edited);
          if (known === undefined) return true;
          expect(known).toEqual(JSON.parse(edited));
          return true;
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('POST /api/v1/reports: heartbeats', () => {
  it('a heartbeat is stored with its collectedAt; an invalid date on one is still a 400', async () => {
    const t = await makeApp({ evaluator: createSpecEvaluator(await loadSpec()) });
    try {
      const report = sampleReport('node-a');
      expect((await postReport(t.app, report)).statusCode).toBe(202);
      const beat = { ...report, collectedAt: '2031-06-30T12:34:56.789Z' };
      expect((await postReport(t.app, beat)).statusCode).toBe(202);
      expect(t.store.latest('node-a')?.report.collectedAt).toBe('2031-06-30T12:34:56.789Z');
      // Plain characters, the same length, not a date: the schema still decides.
      const bad = await postReport(t.app, { ...report, collectedAt: '2031-13-45T12:34:56.789Z' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/collectedAt/);
      expect(t.store.latest('node-a')?.report.collectedAt).toBe('2031-06-30T12:34:56.789Z');
      // Changed facts after heartbeats are evaluated again.
      const failing = {
        ...report,
        facts: { ...report.facts, cpu: { ...report.facts.cpu, arch: 'riscv64' } },
      };
      const res = await postReport(t.app, failing);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ verdict: 'fail', failingChecks: ['cpu.arch'] });
      // And a heartbeat of the failing report keeps it failing.
      const again = await postReport(t.app, { ...failing, collectedAt: '2031-07-01T00:00:00Z' });
      expect(again.json().verdict).toBe('fail');
    } finally {
      await t.app.close();
    }
  });

  it('a heartbeat still needs a valid token', async () => {
    const t = await makeApp();
    try {
      const report = sampleReport('node-a');
      expect((await postReport(t.app, report)).statusCode).toBe(202);
      const beat = { ...report, collectedAt: '2031-06-30T12:34:56.789Z' };
      expect((await postReport(t.app, beat, auth('wrong'))).statusCode).toBe(401);
      expect(t.store.latest('node-a')?.report.collectedAt).toBe(report.collectedAt);
    } finally {
      await t.app.close();
    }
  });
});

describe('validatingHeartbeats', () => {
  const compile = validatingHeartbeats(buildSchemaCompiler());
  const validate = compile({ schema: Report, method: 'POST', url: '/', httpPart: 'body' }) as (
    data: unknown,
  ) => boolean;

  it('validates only the collectedAt of a recognised (frozen) heartbeat, and all of any other body', () => {
    const { bodies, text, report } = remembered();
    const beat = bodies.recognise(withValue(text, report.collectedAt, '2031-06-30T12:34:56.789Z'));
    expect(beat && Object.isFrozen(beat)).toBe(true);
    expect(validate(beat)).toBe(true);
    // The rest of a recognised body was validated when it was parsed: it is not looked at again...
    expect(validate(Object.freeze({ ...report, extra: 1 }))).toBe(true);
    // ...but a body JSON.parse made is validated whole, and a bad collectedAt fails either way.
    expect(validate({ ...report, extra: 1 })).toBe(false);
    expect(validate(Object.freeze({ ...report, collectedAt: 'yesterday' }))).toBe(false);
  });

  it('leaves the validators of other parts alone: a frozen object gets no pass there', () => {
    const query = compile({ schema: Report, method: 'POST', url: '/', httpPart: 'querystring' }) as (
      data: unknown,
    ) => boolean;
    expect(query(Object.freeze({ ...sampleReport(), extra: 1 }))).toBe(false);
  });
});
