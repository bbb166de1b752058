// What fails a verdict: a check that is `fail`, or `error` (a probe that could not finish fails it too).
// The one definition, for the verdict, the condition message, events and the API's failingChecks.
import type { CheckResult } from '../report/schema.js';

export function isFailingStatus(status: CheckResult['status']): boolean {
  return status === 'fail' || status === 'error';
}

/** Ids of the checks that fail the verdict, in check order. */
export function failingCheckIds(checks: readonly CheckResult[]): string[] {
  const ids: string[] = [];
  for (const c of checks) if (isFailingStatus(c.status)) ids.push(c.id);
  return ids;
}
