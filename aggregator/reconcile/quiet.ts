// Nodes with nothing to write: after a reconcile that found the node as desired (no label, taint or
// condition change, no transition held), the next reports with the same inputs are not planned again
// until the condition's heartbeat is due — a fleet's reports mostly repeat the last one, and planning
// each (desired state, patch, status diff) was the largest cost of ingest with the Kubernetes integration.
// The skip is conservative: same informer object (any change to the Node replaces it), a state of the
// same verdict, role and staleness whose evaluation shares its facts, probe errors and checks (the
// aggregator reuses those objects for an unchanged report), and only for reported, fresh nodes.
import type { NodeState } from '../contracts.js';
import { conditionOf, type NodeView, timeMs } from '../k8s/node-view.js';

interface Quiet {
  state: NodeState;
  view: NodeView;
  /** When the condition's heartbeat is due again (ms since the epoch). */
  until: number;
}

/** Would reconciling `b` plan exactly what reconciling `a` planned? (Reference equality: conservative.) */
export function sameInputs(a: NodeState, b: NodeState): boolean {
  if (a.stale || b.stale || a.neverReported || b.neverReported) return false;
  if (a.node !== b.node || a.verdict !== b.verdict || a.role !== b.role) return false;
  const x = a.result;
  const y = b.result;
  if (x === null || y === null) return false;
  return x.facts === y.facts && x.probeErrors === y.probeErrors && x.checks === y.checks;
}

export class QuietNodes {
  private readonly quiet = new Map<string, Quiet>();

  /**
   * `state` was reconciled against `view` and nothing needed writing: remember it until the heartbeat of
   * the condition `conditionType` is due (`heartbeatThrottleMs` after the one the node carries).
   */
  record(state: NodeState, view: NodeView, conditionType: string, heartbeatThrottleMs: number): void {
    const heartbeat = timeMs(conditionOf(view, conditionType)?.lastHeartbeatTime);
    if (heartbeat === undefined || !Number.isFinite(heartbeatThrottleMs)) return;
    this.quiet.set(state.node, { state, view, until: heartbeat + heartbeatThrottleMs });
  }

  /** True when `state` may be skipped: nothing would be written for it against `current` at `now`. */
  skips(state: NodeState, current: NodeView | undefined, now: number): boolean {
    const q = this.quiet.get(state.node);
    if (q === undefined) return false;
    if (current === q.view && now < q.until && sameInputs(q.state, state)) return true;
    this.quiet.delete(state.node);
    return false;
  }

  forget(node: string): void {
    this.quiet.delete(node);
  }

  size(): number {
    return this.quiet.size;
  }
}
