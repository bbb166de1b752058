// The real ReportEvaluator: the spec in force, the role from the node's cluster labels when they name one,
// else from the facts, and the labels handed to the node.label check. The spec can be replaced while the
// server runs (live reload, aggregator/spec-watcher.ts): each evaluation reads the one in force.

import { isRole } from '../../report/constants.js';
import type { NodeResult, ProbeName, Report, Role } from '../../report/schema.js';
import type { RoleDecision } from '../../spec/api.js';
import { evaluate } from '../../spec/evaluate.js';
import type { Spec } from '../../spec/load.js';
import { roleFromFacts, roleFromLabels } from '../../spec/role.js';
import type { PreviousEvaluation, ReportEvaluator } from './evaluator.js';
import { jsonEqual, labelsEqual } from './json-equal.js';

export interface SpecEvaluator extends ReportEvaluator {
  readonly spec: Spec;
  /** Put another (already validated) spec in force for every evaluation from now on. */
  setSpec(spec: Spec): void;
}

export interface SpecEvaluatorOptions {
  /** The role of the node's previous evaluation (the store's), if any. */
  previousRole?: (node: string) => Role | undefined;
  /** Our own role label (`<prefix>role`), read when there is no previous evaluation (after a restart). */
  roleLabel?: string;
}

/** Probes whose failure makes a role derived from facts meaningless (a timed-out nvidia-smi ≠ no GPU). */
const ROLE_PROBES: ReadonlySet<ProbeName> = new Set<ProbeName>(['gpu', 'jetson', 'pci']);

/**
 * The role decision for one report. Labels naming a role win. Otherwise the facts decide, except when the
 * gpu, jetson or pci probe errored in this report: then the node keeps the role it had (the previous result's,
 * else our role label), so one nvidia-smi timeout does not move a GPU node into the compute pool (role label,
 * breaker pool, taint).
 */
export function decideRole(
  report: Report,
  labels: Record<string, string> | undefined,
  options: SpecEvaluatorOptions = {},
): RoleDecision {
  const fromLabels = labels ? roleFromLabels(labels) : null;
  if (fromLabels) return fromLabels;
  const fromFacts = roleFromFacts(report.facts);
  const errored = report.probeErrors.find((e) => ROLE_PROBES.has(e.probe));
  if (!errored) return fromFacts;
  const why = `previous (${errored.probe} probe error)`;
  const previous = options.previousRole?.(report.node);
  if (previous)
    return { role: previous, source: why, reason: `kept from the previous evaluation: ${errored.message}` };
  const labelled = options.roleLabel ? labels?.[options.roleLabel] : undefined;
  if (isRole(labelled)) {
    return {
      role: labelled,
      source: why,
      reason: `kept from the ${options.roleLabel} label: ${errored.message}`,
    };
  }
  return fromFacts;
}

/** What an evaluation read besides the report: a result may be reused only while these are the same. */
interface EvaluationInputs {
  spec: Spec;
  labels: Record<string, string> | undefined;
}

export function createSpecEvaluator(initial: Spec, options: SpecEvaluatorOptions = {}): SpecEvaluator {
  let spec = initial;
  // Keyed by result: a result replaced by a re-evaluation (new spec) simply has no entry to match.
  const inputsOf = new WeakMap<NodeResult, EvaluationInputs>();
  return {
    get spec() {
      return spec;
    },
    setSpec(next: Spec) {
      spec = next;
    },
    evaluate(report: Report, labels: Record<string, string> | undefined): NodeResult {
      const role = decideRole(report, labels, options);
      const result = evaluate(report, spec, role, labels ? { labels } : undefined);
      // A copy: the informer's label object could change in place.
      inputsOf.set(result, { spec, labels: labels ? { ...labels } : undefined });
      return result;
    },
    reuse(previous: PreviousEvaluation, report: Report, labels: Record<string, string> | undefined) {
      const inputs = inputsOf.get(previous.result);
      // evaluate() is pure in (facts, probe errors, role, labels, spec); the role decision reads the same
      // facts, probe errors and labels, or the previous role, which is this result's.
      if (
        inputs === undefined ||
        inputs.spec !== spec ||
        // Never true from the app (the store keeps one report per node), but the role decision may have
        // read this node's previous role, so a result is valid for its own node only: one compare keeps
        // the method honest for any caller.
        previous.report.node !== report.node ||
        !labelsEqual(inputs.labels, labels) ||
        !jsonEqual(previous.report.probeErrors, report.probeErrors) ||
        !jsonEqual(previous.report.facts, report.facts)
      ) {
        return undefined;
      }
      const result: NodeResult = {
        ...previous.result,
        collectedAt: report.collectedAt,
        evaluatedAt: new Date().toISOString(),
      };
      inputsOf.set(result, inputs);
      return result;
    },
  };
}
