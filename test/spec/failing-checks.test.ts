// One definition of "failing check" (fail or error: a probe error fails the verdict) for the API and the
// reconciler, and one reading of a failed API call's status.
import { describe, expect, it } from 'vitest';
import { apiStatus } from '../../aggregator/k8s/api-errors.js';
import { makeNames } from '../../aggregator/k8s/names.js';
import { DEFAULT_TAINT_ROLES, desiredState } from '../../aggregator/reconcile/desired.js';
import type { CheckResult, NodeResult, Report } from '../../report/schema.js';
import { failingCheckIds } from '../../spec/failing-checks.js';
import { fakeEvaluator, makeApp, postReport, sampleReport } from '../aggregator/harness.js';

const check = (id: string, status: CheckResult['status']): CheckResult => ({
  id,
  status,
  observed: null,
  expected: null,
  message: id,
  remediation: null,
  source: null,
});

describe('failing checks', () => {
  it('the API and the condition message list fail and error checks, nothing else', async () => {
    const base = fakeEvaluator(() => 'fail');
    const evaluator = {
      spec: base.spec,
      evaluate(report: Report, labels: Record<string, string> | undefined): NodeResult {
        return {
          ...base.evaluate(report, labels),
          checks: [
            check('memory.total', 'fail'),
            check('gpu.driver', 'error'),
            check('registry.reachable', 'warn'),
            check('cpu.arch', 'pass'),
            check('jetson.jetpack', 'skip'),
          ],
        };
      },
    };
    const t = await makeApp({ evaluator });
    try {
      const res = await postReport(t.app, sampleReport('n1'));
      expect(res.statusCode).toBe(202);
      expect(res.json().failingChecks).toEqual(['memory.total', 'gpu.driver']);
      const list = await t.app.inject({ method: 'GET', url: '/api/v1/nodes' });
      expect(list.json().nodes[0].failingChecks).toEqual(['memory.total', 'gpu.driver']);
      const state = t.sink.updates[0]!;
      const desired = desiredState(state, makeNames(), {
        taintRoles: DEFAULT_TAINT_ROLES,
        taintEffect: 'NoSchedule',
      });
      expect(desired.failing).toEqual(['memory.total', 'gpu.driver']);
    } finally {
      await t.app.close();
    }
  });

  it('lists a checks list once: the same frozen ids for the same list, its own for another, none for no failure', () => {
    const checks = [check('a', 'pass'), check('b', 'fail'), check('c', 'error')];
    const ids = failingCheckIds(checks);
    expect(ids).toEqual(['b', 'c']);
    expect(Object.isFrozen(ids)).toBe(true);
    expect(failingCheckIds(checks)).toBe(ids);
    expect(Object.keys(checks)).toEqual(['0', '1', '2']); // nothing enumerable added: JSON unchanged
    expect(JSON.stringify(checks)).toBe(
      JSON.stringify([check('a', 'pass'), check('b', 'fail'), check('c', 'error')]),
    );
    expect(failingCheckIds([check('b', 'pass'), check('d', 'fail')])).toEqual(['d']);
    expect(failingCheckIds(Object.freeze([check('x', 'warn')]))).toEqual([]);
  });

  it('apiStatus reads ApiException codes and Watch/fetch status codes', () => {
    expect(apiStatus({ code: 409, body: '{}' })).toBe(409);
    expect(apiStatus(Object.assign(new Error('Forbidden'), { statusCode: 403 }))).toBe(403);
    expect(apiStatus(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(apiStatus(new Error('timeout'))).toBeUndefined();
    expect(apiStatus(null)).toBeUndefined();
    expect(apiStatus('404')).toBeUndefined();
  });
});
