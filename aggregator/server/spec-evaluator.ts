// The real ReportEvaluator: the spec in force, the role from the node's cluster labels when they name one,
// else from the facts, and the labels handed to the node.label check. The spec can be replaced while the
// server runs (live reload, aggregator/spec-watcher.ts): each evaluation reads the one in force.

import type { NodeResult, Report, Role } from '../../report/schema.js';
import type { RoleDecision } from '../../spec/api.js';
import { evaluate } from '../../spec/evaluate.js';
import type { Spec } from '../../spec/load.js';
import { resolveRole } from '../../spec/role.js';
import { isoTime } from '../iso-time.js';
import type { PreviousEvaluation, ReportEvaluator } from './evaluator.js';
import { jsonEqual, labelsEqual } from './json-equal.js';
import { OutcomeInterner } from './outcome-interner.js';

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

/** The role decision for one report: spec/role.ts's resolveRole with what the aggregator knows. */
export function decideRole(
  report: Report,
  labels: Readonly<Record<string, string>> | undefined,
  options: SpecEvaluatorOptions = {},
): RoleDecision {
  const { previousRole } = options;
  return resolveRole({
    labels,
    ownRoleLabel: options.roleLabel,
    report,
    previous: previousRole ? () => previousRole(report.node) : undefined,
  });
}

/** What an evaluation read besides the report: a result may be reused only while these are the same. */
interface EvaluationInputs {
  spec: Spec;
  labels: Readonly<Record<string, string>> | undefined;
}

/**
 * A result made here, with the inputs it was computed from in a private field: no copy, JSON, spread or
 * equality sees them, and a result from anywhere else (or replaced by a re-evaluation) has none. The
 * fields are the schema's, in its order. (A non-enumerable symbol property cost an out-of-object property
 * store per report, 148 instead of 116 bytes; a WeakMap from result to inputs, an ephemeron per report.)
 */
class EvaluatedResult implements NodeResult {
  node: string;
  role: NodeResult['role'];
  roleSource: string;
  verdict: NodeResult['verdict'];
  facts: NodeResult['facts'];
  probeErrors: NodeResult['probeErrors'];
  checks: NodeResult['checks'];
  collectedAt: string;
  evaluatedAt: string;
  spec: NodeResult['spec'];
  readonly #inputs: EvaluationInputs;

  constructor(r: NodeResult, collectedAt: string, evaluatedAt: string, inputs: EvaluationInputs) {
    this.node = r.node;
    this.role = r.role;
    this.roleSource = r.roleSource;
    this.verdict = r.verdict;
    this.facts = r.facts;
    this.probeErrors = r.probeErrors;
    this.checks = r.checks;
    this.collectedAt = collectedAt;
    this.evaluatedAt = evaluatedAt;
    this.spec = r.spec;
    this.#inputs = inputs;
  }

  static inputsOf(result: NodeResult): EvaluationInputs | undefined {
    return #inputs in result ? (result as EvaluatedResult).#inputs : undefined;
  }
}

export function createSpecEvaluator(initial: Spec, options: SpecEvaluatorOptions = {}): SpecEvaluator {
  let spec = initial;
  let loadedAt = new Date().toISOString();
  // Nodes with the same outcomes share them (frozen): the evaluation is the largest item kept per node.
  const outcomes = new OutcomeInterner();
  return {
    get spec() {
      return spec;
    },
    get specLoadedAt() {
      return loadedAt;
    },
    setSpec(next: Spec) {
      spec = next;
      loadedAt = new Date().toISOString();
    },
    evaluate(report: Report, labels: Readonly<Record<string, string>> | undefined): NodeResult {
      const role = decideRole(report, labels, options);
      const result = outcomes.result(evaluate(report, spec, role, labels ? { labels } : undefined));
      // Kept as given: the cluster view replaces a node's label object when the node changes, never edits
      // it (ClusterView.labelsOf), so the next report's labels are usually this very object.
      return new EvaluatedResult(result, result.collectedAt, result.evaluatedAt, { spec, labels });
    },
    reuse(
      previous: PreviousEvaluation,
      report: Report,
      labels: Readonly<Record<string, string>> | undefined,
    ) {
      const inputs = EvaluatedResult.inputsOf(previous.result);
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
      return new EvaluatedResult(previous.result, report.collectedAt, isoTime(Date.now()), inputs);
    },
  };
}
