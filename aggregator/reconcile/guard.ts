// The mass-change guard over everything OSMO reads (our condition, the conformant label, the taint). A node
// newly turning BaselineNotMet=True or Unknown (its condition was False, or it had none) is a transition
// OSMO acts on: it stops scheduling there. When, within the window, the nodes of a role making such a
// transition would exceed maxPercent of the role (and are at least two, so one node is never blocked),
// the excess is held: the node keeps its previous condition, label and taint, and the hold is served.
// A hold ends when the node no longer wants the transition, when the share falls back (the transitions
// admitted within the window plus those held fit again), or when an operator accepts it by setting the
// accept annotation on the node to a time at or after the hold began.
import type { Role } from '../../report/schema.js';
import type { HeldTransition } from '../contracts.js';
import { rfc3339, timeMs } from '../k8s/node-view.js';

export interface GuardOptions {
  maxPercent: number;
  windowMs: number;
  now: () => number;
  /** Nodes of the role in the cluster. */
  roleNodes: (role: Role) => number;
}

export type { HeldTransition };

export interface GuardInput {
  node: string;
  role: Role;
  /** Our condition's status on the node now, if it has one. */
  current: string | undefined;
  desired: { status: string; reason: string; message: string };
  /** The node's accept annotation, as set by an operator. */
  accept: string | undefined;
}

export type GuardDecision = { hold: false } | { hold: true; firstOfRole: boolean; held: HeldTransition };

const WRITE: GuardDecision = { hold: false };

/** Does a transition from `current` to `desired` make OSMO stop scheduling on a node it used? */
export function isBadTransition(current: string | undefined, desired: string): boolean {
  return (desired === 'True' || desired === 'Unknown') && (current === undefined || current === 'False');
}

/** Would one more such transition in the role (making `wanting`) exceed the share? Never for one node. */
export function exceedsShare(wanting: number, roleNodes: number, maxPercent: number): boolean {
  return wanting >= 2 && wanting * 100 > maxPercent * Math.max(roleNodes, wanting);
}

export class MassChangeGuard {
  private readonly o: GuardOptions;
  /** Transitions written within the window, by node. */
  private readonly recent = new Map<string, { role: Role; at: number }>();
  private readonly held = new Map<string, HeldTransition & { sinceMs: number }>();

  constructor(options: GuardOptions) {
    this.o = options;
  }

  decide(input: GuardInput): GuardDecision {
    const now = this.o.now();
    this.prune(now);
    if (!isBadTransition(input.current, input.desired.status)) {
      this.held.delete(input.node);
      // A node passing again no longer counts against the share (one already True/Unknown still does).
      if (input.desired.status === 'False') this.recent.delete(input.node);
      return WRITE;
    }
    if (this.recent.has(input.node)) return WRITE;
    const previous = this.held.get(input.node);
    const acceptedAt = timeMs(input.accept);
    if (previous && acceptedAt !== undefined && acceptedAt >= previous.sinceMs) return this.admit(input, now);
    let wanting = 1;
    for (const [node, r] of this.recent) if (r.role === input.role && node !== input.node) wanting++;
    for (const [node, h] of this.held) if (h.role === input.role && node !== input.node) wanting++;
    if (!exceedsShare(wanting, this.o.roleNodes(input.role), this.o.maxPercent))
      return this.admit(input, now);
    const firstOfRole = ![...this.held.values()].some((h) => h.role === input.role);
    const sinceMs = previous?.sinceMs ?? now;
    const held: HeldTransition & { sinceMs: number } = {
      node: input.node,
      role: input.role,
      from: input.current === 'False' ? 'False' : 'none',
      to: input.desired.status as 'True' | 'Unknown',
      reason: input.desired.reason,
      message: input.desired.message,
      since: rfc3339(sinceMs),
      sinceMs,
    };
    this.held.set(input.node, held);
    return { hold: true, firstOfRole, held: publicHeld(held) };
  }

  private admit(input: GuardInput, now: number): GuardDecision {
    this.held.delete(input.node);
    this.recent.set(input.node, { role: input.role, at: now });
    return WRITE;
  }

  private prune(now: number): void {
    for (const [node, r] of this.recent) if (now - r.at >= this.o.windowMs) this.recent.delete(node);
  }

  heldOf(node: string): HeldTransition | undefined {
    const h = this.held.get(node);
    return h ? publicHeld(h) : undefined;
  }

  allHeld(): HeldTransition[] {
    return [...this.held.values()].map(publicHeld).sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  /** Held nodes per role (for the metric). */
  heldByRole(): Map<Role, number> {
    const out = new Map<Role, number>();
    for (const h of this.held.values()) out.set(h.role, (out.get(h.role) ?? 0) + 1);
    return out;
  }

  forget(node: string): void {
    this.held.delete(node);
    this.recent.delete(node);
  }
}

function publicHeld(h: HeldTransition & { sinceMs: number }): HeldTransition {
  const { sinceMs: _, ...rest } = h;
  return rest;
}
