// The real ReportEvaluator: the spec in force, the role from the node's cluster labels when they name one,
// else from the facts, and the labels handed to the node.label check. The spec can be replaced while the
// server runs (live reload, aggregator/spec-watcher.ts): each evaluation reads the one in force.
import type { NodeResult, Report } from '../../report/schema.js';
import { evaluate } from '../../spec/evaluate.js';
import type { Spec } from '../../spec/load.js';
import { roleFromFacts, roleFromLabels } from '../../spec/role.js';
import type { ReportEvaluator } from './evaluator.js';

export interface SpecEvaluator extends ReportEvaluator {
  readonly spec: Spec;
  /** Put another (already validated) spec in force for every evaluation from now on. */
  setSpec(spec: Spec): void;
}

export function createSpecEvaluator(initial: Spec): SpecEvaluator {
  let spec = initial;
  return {
    get spec() {
      return spec;
    },
    setSpec(next: Spec) {
      spec = next;
    },
    evaluate(report: Report, labels: Record<string, string> | undefined): NodeResult {
      const role = (labels && roleFromLabels(labels)) ?? roleFromFacts(report.facts);
      return evaluate(report, spec, role, labels ? { labels } : undefined);
    },
  };
}
