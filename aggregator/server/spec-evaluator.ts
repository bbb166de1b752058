// The real ReportEvaluator: the spec loaded once at start, the role from the node's cluster labels when
// they name one, else from the facts, and the labels handed to the node.label check.
import type { NodeResult, Report } from '../../report/schema.js';
import { evaluate } from '../../spec/evaluate.js';
import type { Spec } from '../../spec/load.js';
import { roleFromFacts, roleFromLabels } from '../../spec/role.js';
import type { ReportEvaluator } from './evaluator.js';

export function createSpecEvaluator(spec: Spec): ReportEvaluator {
  return {
    spec,
    evaluate(report: Report, labels: Record<string, string> | undefined): NodeResult {
      const role = (labels && roleFromLabels(labels)) ?? roleFromFacts(report.facts);
      return evaluate(report, spec, role, labels ? { labels } : undefined);
    },
  };
}
