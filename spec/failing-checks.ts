// What fails a verdict: a check that is `fail`, or `error` (a probe that could not finish fails it too).
// The one definition, for the verdict, the condition message, events and the API's failingChecks.
import type { CheckResult } from '../report/schema.js';

export function isFailingStatus(status: CheckResult['status']): boolean {
  return status === 'fail' || status === 'error';
}

/** Where a checks list keeps its failing ids once listed (a non-enumerable property: no WeakMap entry). */
const FAILING = Symbol('failing check ids');
type ChecksWithIds = readonly CheckResult[] & { [FAILING]?: readonly string[] };

/**
 * Ids of the checks that fail the verdict, in check order. Listed once per checks list: an evaluation's
 * checks are never changed once made, and a node's unchanged reports share them (the report's answer, the
 * reconciler's message and the metrics all ask for the same list).
 */
export function failingCheckIds(checks: readonly CheckResult[]): readonly string[] {
  const known = (checks as ChecksWithIds)[FAILING];
  if (known !== undefined) return known;
  const ids: string[] = [];
  for (const c of checks) if (isFailingStatus(c.status)) ids.push(c.id);
  Object.freeze(ids);
  if (Object.isExtensible(checks)) Object.defineProperty(checks, FAILING, { value: ids });
  return ids;
}
