// What the server needs from the spec layer: the spec in force and a way to evaluate one report. The
// real one (spec-evaluator.ts) binds loadSpec/evaluate/role; tests may pass a small fake.
import type { NodeResult, Report } from '../../report/schema.js';

/** A node's latest stored report and its evaluation. */
export interface PreviousEvaluation {
  report: Report;
  result: NodeResult;
}

export interface ReportEvaluator {
  /** The spec in force, served as-is by GET /api/v1/spec. */
  readonly spec: unknown;
  /** When the spec in force was put in force (ISO time); optional for fakes. */
  readonly specLoadedAt?: string;
  /** `labels`: the node's cluster labels when a ClusterView knows the node (role + node.label check). */
  evaluate(report: Report, labels: Readonly<Record<string, string>> | undefined): NodeResult;
  /**
   * Optional: the previous result with fresh timestamps when nothing it was computed from changed (same
   * spec, labels, facts and probe errors), else undefined. Most reports repeat the last one (heartbeats),
   * so this skips evaluating them; fakes without it are always asked to evaluate.
   */
  reuse?(
    previous: PreviousEvaluation,
    report: Report,
    labels: Readonly<Record<string, string>> | undefined,
  ): NodeResult | undefined;
}
