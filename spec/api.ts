// The fixed signatures of the spec layer, so the agent (check), the aggregator and the tests can be
// written against them. Implementations live beside this file (load.ts, evaluate.ts, role.ts).
import type { Facts, ProbeError, Role } from '../report/schema.js';

/** What evaluation needs from a report or a local probe run. */
export interface EvaluationInput {
  node: string;
  facts: Facts;
  probeErrors: ProbeError[];
  collectedAt: string;
}

export interface RoleDecision {
  role: Role;
  /** `flag`, `label:<key>=<value>`, or `facts` when derived from the hardware (auto). */
  source: string;
  /** Why, for people: e.g. `NVIDIA GPU found (NVIDIA A100-SXM4-80GB)`. Optional. */
  reason?: string;
}

/** Cluster context for the `node.label` check; absent in `check` (the check is then `skip`). */
export interface NodeLabelContext {
  labels: Record<string, string>;
}
