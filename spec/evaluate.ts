// Pure evaluation of one node's facts against a spec for a role. The facts first get what the spec derives
// from them (the JetPack release, from its L4T table); the result carries those facts. A probe error makes
// every check that reads that probe's facts `error` (never `pass`); the verdict is fail if any check is
// fail or error, else warn if any is warn, else pass.
import type { CheckResult, NodeResult, ProbeError, ProbeName, Verdict } from '../report/schema.js';
import type { EvaluationInput, NodeLabelContext, RoleDecision } from './api.js';
import { type CompiledRoleCheck, compileSpec, type EvalContext } from './compile.js';
import { isFailingStatus } from './failing-checks.js';
import { evaluatedFacts } from './jetpack.js';
import type { Spec } from './spec-types.js';

export interface EvaluateOptions {
  /** Clock for `evaluatedAt` (tests). */
  now?: () => Date;
}

const NO_ERRORS: ReadonlyMap<ProbeName, ProbeError> = new Map();

export function evaluate(
  input: EvaluationInput,
  spec: Spec,
  role: RoleDecision,
  labels?: NodeLabelContext,
  options: EvaluateOptions = {},
): NodeResult {
  const compiled = compileSpec(spec);
  let errors = NO_ERRORS;
  if (input.probeErrors.length > 0) {
    const m = new Map<ProbeName, ProbeError>();
    // First error per probe wins (a probe reports once; be deterministic if not).
    for (const e of input.probeErrors) if (!m.has(e.probe)) m.set(e.probe, e);
    errors = m;
  }
  const facts = evaluatedFacts(input.facts, compiled.jetpack);
  const ctx: EvalContext = { facts, errors, role, labels };
  const checks: CheckResult[] = new Array(compiled.checks.length);
  let anyFail = false;
  let anyWarn = false;
  for (let i = 0; i < compiled.checks.length; i++) {
    const c = compiled.checks[i]!;
    const rc = c.roles[role.role];
    const result = rc ? runCheck(c.id, c.source, rc, ctx) : skipForRole(c.id, c.source, role.role);
    if (isFailingStatus(result.status)) anyFail = true;
    else if (result.status === 'warn') anyWarn = true;
    checks[i] = result;
  }
  const verdict: Verdict = anyFail ? 'fail' : anyWarn ? 'warn' : 'pass';
  return {
    node: input.node,
    role: role.role,
    roleSource: role.source,
    verdict,
    facts,
    probeErrors: input.probeErrors,
    checks,
    collectedAt: input.collectedAt,
    evaluatedAt: (options.now?.() ?? new Date()).toISOString(),
    spec: { name: spec.metadata.name, revision: spec.metadata.revision },
  };
}

function skipForRole(id: string, source: string, role: string): CheckResult {
  return {
    id,
    status: 'skip',
    observed: null,
    expected: null,
    message: `not required for role ${role}`,
    remediation: null,
    source,
  };
}

function runCheck(id: string, source: string, rc: CompiledRoleCheck, ctx: EvalContext): CheckResult {
  if (ctx.errors.size > 0) {
    for (const probe of rc.probes) {
      const err = ctx.errors.get(probe);
      if (err) {
        return {
          id,
          status: 'error',
          observed: null,
          expected: rc.expected,
          message: `${probe} probe failed (${err.kind}): ${err.message}`,
          remediation: `The ${probe} facts could not be collected, so this check cannot pass; fix the cause above and run the check again.`,
          source,
        };
      }
    }
  }
  const out = rc.run(ctx);
  const status = out.status === 'unmet' ? rc.severity : out.status;
  const notPassing = status !== 'pass' && status !== 'skip';
  const message =
    notPassing && rc.note && out.status !== 'error' ? `${out.message}. ${rc.note}` : out.message;
  return {
    id,
    status,
    observed: out.observed,
    expected: rc.expected,
    message,
    remediation: notPassing ? rc.remediation : null,
    source,
  };
}
