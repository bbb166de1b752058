// Circuit breaker on tainting: a bad spec or a broken probe must not cordon a whole role. A new taint is
// allowed only while the role's tainted nodes stay within maxTaintedPercent (at least one node always may
// be tainted, so a role of one node can still be protected). Nodes being tainted right now (or planned,
// in dry-run) are reserved, so concurrent reconciles cannot together exceed the share.
import type { Role } from '../../report/schema.js';
import type { Names } from '../k8s/names.js';
import type { NodeView } from '../k8s/node-view.js';
import type { DesiredNodeState } from './desired.js';
import { hasOurTaint, ownsTaint } from './diff.js';

export interface BreakerInput {
  /** Nodes of the role in the cluster (including the candidate). */
  roleNodes: number;
  /** Nodes of the role already tainted by us, or about to be (not counting the candidate). */
  tainted: number;
  maxTaintedPercent: number;
}

export function allowedTainted(roleNodes: number, maxTaintedPercent: number): number {
  return Math.max(1, Math.floor((Math.max(1, roleNodes) * maxTaintedPercent) / 100));
}

/** May one more node of the role be tainted? */
export function breakerAllows(input: BreakerInput): boolean {
  return input.tainted + 1 <= allowedTainted(input.roleNodes, input.maxTaintedPercent);
}

export interface TaintBreakerOptions {
  names: Names;
  maxTaintedPercent: number;
  /** Dry-run: a planned taint stays reserved (nothing is written, so nothing else would count it). */
  dryRun: boolean;
  /** Every node the cache holds. */
  nodes: () => NodeView[];
  /** The role a cached node counts under. */
  roleOf: (node: NodeView) => Role | undefined;
  /** The role of a reserved node (from its latest state). */
  reservedRole: (node: string) => Role | undefined;
}

/** A refused taint; `notice` is set the first time for this node (log it and emit the Event once). */
export interface BreakerRefusal {
  allowed: false;
  notice?: { message: string; tainted: number; roleNodes: number; allowed: number };
}

export type BreakerDecision = { allowed: true } | BreakerRefusal;

const ALLOWED: BreakerDecision = { allowed: true };

export class TaintBreaker {
  private readonly o: TaintBreakerOptions;
  /** Nodes being tainted right now (or planned, in dry-run). */
  private readonly reservations = new Set<string>();
  /** Nodes already told that the breaker is open (until they no longer want a taint). */
  private readonly notified = new Set<string>();

  constructor(options: TaintBreakerOptions) {
    this.o = options;
  }

  /** May this node get a new taint? Allowing one reserves it until release(). */
  admit(node: NodeView, desired: DesiredNodeState): BreakerDecision {
    const { names, maxTaintedPercent } = this.o;
    if (desired.taint !== 'present' || hasOurTaint(node, names)) return ALLOWED;
    if (this.reservations.has(desired.node)) return ALLOWED;
    const sameRole = this.o.nodes().filter((n) => this.o.roleOf(n) === desired.role);
    const roleNodes = Math.max(sameRole.length, 1);
    const tainted = new Set(sameRole.filter((n) => ownsTaint(n, names)).map((n) => n.metadata?.name ?? ''));
    for (const r of this.reservations) if (this.o.reservedRole(r) === desired.role) tainted.add(r);
    tainted.delete(desired.node);
    if (breakerAllows({ roleNodes, tainted: tainted.size, maxTaintedPercent })) {
      this.reservations.add(desired.node);
      return ALLOWED;
    }
    if (this.notified.has(desired.node)) return { allowed: false };
    this.notified.add(desired.node);
    const allowed = allowedTainted(roleNodes, maxTaintedPercent);
    const message =
      `not tainting ${desired.node}: ${tainted.size} of ${roleNodes} ${desired.role} node(s) are already tainted ` +
      `and at most ${allowed} (${maxTaintedPercent}%) may be; fix the failing nodes, or override with ` +
      `--max-tainted-percent`;
    return { allowed: false, notice: { message, tainted: tainted.size, roleNodes, allowed } };
  }

  /** The node's taint was written (or its write failed): the cache counts it from now on. */
  release(node: string): void {
    if (!this.o.dryRun) this.reservations.delete(node);
  }

  /** The node no longer wants a taint: a later refusal is told again, and an `absent` one frees its plan. */
  notWanted(node: string, taint: 'absent' | 'unchanged'): void {
    this.notified.delete(node);
    if (taint === 'absent') this.reservations.delete(node);
    else this.release(node);
  }

  forget(node: string): void {
    this.reservations.delete(node);
    this.notified.delete(node);
  }
}
