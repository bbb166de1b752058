// The writer: per-node coalescing queue, bounded concurrency, token-bucket rate limit, per-node
// exponential backoff, 429 Retry-After, 409 re-read-and-retry, events and dry-run. It reads nodes from the
// informer cache and writes at most one Node patch and one nodes/status patch per change. The taint
// circuit breaker (breaker.ts) and the log of changes and dry-run plans (change-log.ts) are its parts.

import { errorMessage } from '../../report/error-message.js';
import type { Role } from '../../report/schema.js';
import { resolveRole } from '../../spec/role.js';
import type { NodeState, PlannedChange, StructuredLogger } from '../contracts.js';
import { apiHeader, apiStatus } from '../k8s/api-errors.js';
import { type EventType, eventBody } from '../k8s/events.js';
import type { KubeApi } from '../k8s/kube-api.js';
import type { Names } from '../k8s/names.js';
import { conditionOf, type NodeView } from '../k8s/node-view.js';
import { backoffMs, retryAfterMs, Semaphore, type TokenBucket } from '../k8s/rate-limit.js';
import { TaintBreaker } from './breaker.js';
import { ChangeLog } from './change-log.js';
import {
  type DesiredConfig,
  type DesiredNodeState,
  desiredState,
  heldState,
  verdictEvent,
} from './desired.js';
import { planNodePatch, planStatusPatch } from './diff.js';
import { type HeldTransition, MassChangeGuard } from './guard.js';
import type { ReconcileMetrics } from './metrics.js';
import { QuietNodes, sameInputs } from './quiet.js';

export interface NodeCache {
  get(name: string): NodeView | undefined;
  all(): NodeView[];
  observe(node: NodeView): void;
  evict(name: string): void;
}

export interface ReconcilerOptions {
  api: KubeApi;
  cache: NodeCache;
  names: Names;
  desired: DesiredConfig;
  dryRun: boolean;
  maxTaintedPercent: number;
  /** Mass-change guard: share of a role's nodes that may newly turn True/Unknown within the window. */
  guardMaxPercent?: number;
  guardWindowMs?: number;
  heartbeatThrottleMs: number;
  eventNamespace: string;
  concurrency: number;
  limiter: TokenBucket;
  metrics: ReconcileMetrics;
  logger: StructuredLogger;
  backoffBaseMs?: number;
  /** Cap of the per-node backoff: a failed write is retried for ever, at least this often (default 60 s). */
  backoffCapMs?: number;
  /**
   * Periodic resync: every known node's desired state is compared with the informer's copy once per this
   * period, each node at its own point of the period, and only a difference is written. 0: off.
   */
  resyncMs?: number;
  now?: () => number;
}

/** The node's opt-out annotations, as an operator set them. */
function optOuts(view: NodeView, names: Names): { paused: boolean; noTaint: boolean } {
  const a = view.metadata?.annotations ?? {};
  return {
    paused: a[names.annotations.paused]?.trim().toLowerCase() === 'true',
    noTaint: a[names.annotations.taint]?.trim().toLowerCase() === 'false',
  };
}

/** Does the state differ in what the reconciler acts on (verdict, staleness, role, failing checks)? */
function stateChanged(a: NodeState, b: NodeState): boolean {
  if (a === b) return false;
  if (a.verdict !== b.verdict || a.stale !== b.stale || a.role !== b.role) return true;
  const checks = (s: NodeState) => (s.result?.checks ?? []).map((c) => `${c.id}=${c.status}`).join(',');
  return checks(a) !== checks(b);
}

class NodeGone extends Error {
  constructor(node: string) {
    super(`node ${node} no longer exists`);
    this.name = 'NodeGone';
  }
}

interface Slot {
  pending: NodeState | undefined;
  running: boolean;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  forgotten: boolean;
}

const MAX_CALL_RETRIES = 4;
const MAX_CONFLICT_RETRIES = 4;

export class Reconciler {
  private readonly o: ReconcilerOptions;
  private readonly slots = new Map<string, Slot>();
  /**
   * Slots that may be pending or running (a superset; pruned by updateDepth). A slot only gets work via
   * update(), which adds it here, so the queue depth costs O(busy slots), not O(all nodes), per report.
   */
  private readonly active = new Set<Slot>();
  private readonly lastState = new Map<string, NodeState>();
  /** Nodes that have reported since this process started: only those may lose labels or taints. */
  private readonly reported = new Set<string>();
  private readonly breaker: TaintBreaker;
  private readonly guard: MassChangeGuard;
  private roleCounts: { at: number; counts: Map<Role | undefined, number> } | undefined;
  private readonly changeLog: ChangeLog;
  /** Nodes found as desired, whose identical reports are not planned again until a heartbeat is due. */
  private readonly quiet = new QuietNodes();
  private readonly semaphore: Semaphore;
  private readonly now: () => number;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** The node's state as its source holds it now (staleness re-read at each resync). */
  private stateSource: ((node: string) => NodeState | undefined) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** The nodes of the current resync walk still to visit, and how many the walk started with. */
  private walk: string[] = [];
  private walkSize = 0;

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.semaphore = new Semaphore(options.concurrency);
    this.now = options.now ?? Date.now;
    this.breaker = new TaintBreaker({
      names: options.names,
      maxTaintedPercent: options.maxTaintedPercent,
      dryRun: options.dryRun,
      nodes: () => options.cache.all(),
      roleOf: (view) => this.roleOf(view),
      reservedRole: (node) => this.lastState.get(node)?.role,
    });
    this.guard = new MassChangeGuard({
      maxPercent: options.guardMaxPercent ?? 30,
      windowMs: options.guardWindowMs ?? 600_000,
      now: this.now,
      roleNodes: (role) => this.roleNodeCount(role),
    });
    this.changeLog = new ChangeLog({ dryRun: options.dryRun, logger: options.logger, now: this.now });
  }

  update(state: NodeState): void {
    if (this.stopped) return;
    if (this.nodeIdle(state.node) && this.quiet.skips(state, this.o.cache.get(state.node), this.now())) {
      // The state kept already has these inputs (only its result's times are older): kept, as a new equal
      // state per report would be one more object to outlive the young generation.
      const kept = this.lastState.get(state.node);
      if (kept === undefined || !sameInputs(kept, state)) this.lastState.set(state.node, state);
      return;
    }
    this.lastState.set(state.node, state);
    if (!state.stale && state.verdict !== 'unknown') this.reported.add(state.node);
    let slot = this.slots.get(state.node);
    if (!slot) {
      slot = { pending: undefined, running: false, attempt: 0, timer: undefined, forgotten: false };
      this.slots.set(state.node, slot);
    }
    slot.pending = state;
    this.active.add(slot);
    slot.attempt = 0;
    if (slot.timer) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    this.kick(state.node);
  }

  forget(node: string): void {
    this.quiet.forget(node);
    const slot = this.slots.get(node);
    if (slot) {
      slot.forgotten = true;
      slot.pending = undefined;
      if (slot.timer) clearTimeout(slot.timer);
      this.slots.delete(node);
      this.active.delete(slot);
    }
    this.lastState.delete(node);
    this.reported.delete(node);
    this.breaker.forget(node);
    this.guard.forget(node);
    this.updateGuardMetric();
    this.changeLog.forget(node);
    this.updateDepth();
  }

  /** The transitions the mass-change guard holds (all, or the node's). */
  held(node?: string): HeldTransition[] {
    if (node === undefined) return this.guard.allHeld();
    const h = this.guard.heldOf(node);
    return h ? [h] : [];
  }

  /** The informer saw the node change: a held node is decided again at once (an operator may have accepted it). */
  nodeChanged(node: string): void {
    if (this.guard.heldOf(node)) this.resyncNode(node);
  }

  changes(node?: string): PlannedChange[] {
    return this.changeLog.changes(node);
  }

  /** Where a resync reads each node's current state (the store); without it, the latest update. */
  setStateSource(source: (node: string) => NodeState | undefined): void {
    this.stateSource = source;
  }

  /** Starts the periodic resync (no-op when resyncMs is 0); its timer never keeps the process alive. */
  startResync(): void {
    const period = this.o.resyncMs ?? 0;
    if (period <= 0 || this.resyncTimer || this.stopped) return;
    const tickMs = Math.max(10, Math.min(1000, Math.floor(period / 20)));
    this.resyncTimer = setInterval(() => this.resyncTick(tickMs, period), tickMs);
    this.resyncTimer.unref();
  }

  /**
   * One step of the paced walk: a walk visits every known node once per period, spread evenly over it
   * (n·tick/period nodes per tick), so 5,000 nodes every 5 min are ~17 nodes a second, not a burst.
   */
  private resyncTick(tickMs: number, period: number): void {
    if (this.walk.length === 0) {
      this.walk = [...this.lastState.keys()].sort().reverse();
      this.walkSize = this.walk.length;
    }
    const step = Math.max(1, Math.ceil((this.walkSize * tickMs) / period));
    for (let i = 0; i < step && this.walk.length > 0; i++) {
      const node = this.walk.pop();
      if (node !== undefined) this.resyncNode(node);
    }
  }

  /**
   * A node's state as its source has it now, against the informer's copy: queued only when something
   * would be written (a lost write, an edit by someone else, a staleness the reconciler missed). An
   * unchanged node costs no write and no read. A node waiting for its retry keeps its backoff.
   */
  resyncNode(node: string): void {
    const last = this.lastState.get(node);
    if (!last || this.stopped) return;
    const slot = this.slots.get(node);
    if (slot && (slot.timer || slot.running || slot.pending !== undefined)) return;
    const state = this.stateSource?.(node) ?? last;
    const view = this.o.cache.get(node);
    if (view && !stateChanged(last, state) && !this.wouldWrite(view, state)) return;
    this.o.metrics.resyncRepairs.inc();
    this.quiet.forget(node);
    this.update(state);
  }

  /** Would reconciling this state write anything (heartbeats aside)? Pure: nothing reserved. */
  private wouldWrite(view: NodeView, state: NodeState): boolean {
    const { names } = this.o;
    if (optOuts(view, names).paused) return false;
    const desired = this.desiredOf(view, state);
    const plan = planNodePatch(view, desired, names, {
      allowRemoval: this.reported.has(state.node),
      taintAllowed: true,
      taintRemovalForced: optOuts(view, names).noTaint,
    });
    return plan !== null || planStatusPatch(view, desired.condition, this.now(), Infinity) !== null;
  }

  stop(): void {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    for (const slot of this.slots.values()) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.pending = undefined;
    }
  }

  /** Resolves when no node has work pending or running (for tests and orderly shutdown). */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.busy()) {
      if (Date.now() > deadline) throw new Error('reconciler did not become idle');
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  private busy(): boolean {
    for (const s of this.active) if (s.running || s.pending !== undefined) return true;
    return false;
  }

  private updateDepth(): void {
    for (const s of this.active) if (!s.running && s.pending === undefined) this.active.delete(s);
    const depth = this.active.size;
    this.o.metrics.queueDepth.set(depth);
    if (depth === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private kick(node: string): void {
    const slot = this.slots.get(node);
    if (!slot || slot.running || slot.timer || slot.pending === undefined) {
      this.updateDepth();
      return;
    }
    slot.running = true;
    this.updateDepth();
    void this.semaphore
      .run(() => this.drain(node, slot))
      .finally(() => {
        slot.running = false;
        if (!slot.forgotten && slot.pending !== undefined && !slot.timer) this.kick(node);
        this.updateDepth();
      });
  }

  private async drain(node: string, slot: Slot): Promise<void> {
    // Coalescing: each pass takes only the latest state; bounded so a flood cannot pin a worker.
    for (let pass = 0; pass < 16 && slot.pending !== undefined && !slot.forgotten && !this.stopped; pass++) {
      const state = slot.pending;
      slot.pending = undefined;
      try {
        await this.reconcile(state);
        slot.attempt = 0;
      } catch (err) {
        if (err instanceof NodeGone) {
          this.o.logger.info({ node }, 'node was deleted while being reconciled; forgetting it');
          this.o.cache.evict(node);
          this.forget(node);
          return;
        }
        this.retryLater(node, slot, state, err);
        return;
      }
    }
  }

  /**
   * A failed reconcile: again after a capped exponential backoff, for as long as it fails (a newer state
   * replaces the retried one). What we wrote must not stay wrong because the API server was down a while.
   */
  private retryLater(node: string, slot: Slot, state: NodeState, err: unknown): void {
    slot.attempt++;
    slot.pending ??= state;
    const delay = backoffMs(slot.attempt, this.o.backoffBaseMs ?? 1000, this.o.backoffCapMs ?? 60_000);
    const log = slot.attempt >= 8 ? this.o.logger.error : this.o.logger.warn;
    log.call(
      this.o.logger,
      { node, attempt: slot.attempt, retryInMs: delay, err: errorMessage(err, { firstLine: true }) },
      'reconcile failed; retrying',
    );
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      this.kick(node);
    }, delay);
    slot.timer.unref();
  }

  /** One API call: rate-limited, 429 Retry-After honoured (bounded), 404 → NodeGone. */
  private async call<T>(kind: string, node: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.o.limiter.take();
      try {
        const out = await fn();
        if (kind !== 'read') this.o.metrics.writes.inc({ kind });
        return out;
      } catch (err) {
        const status = apiStatus(err);
        if (status === 429 && attempt < MAX_CALL_RETRIES) {
          const wait = retryAfterMs(apiHeader(err, 'retry-after'), Date.now()) ?? 1000;
          this.o.logger.warn({ node, kind, retryAfterMs: wait }, 'API server asked us to slow down (429)');
          this.o.limiter.pauseFor(wait);
          continue;
        }
        if (status === 404 && kind !== 'event') throw new NodeGone(node);
        if (status !== 409) this.o.metrics.failures.inc({ kind });
        throw err;
      }
    }
  }

  /** The role a cached node counts under in the breaker: its latest state's, else what its labels say. */
  private roleOf(view: NodeView): Role | undefined {
    const name = view.metadata?.name;
    const known = name ? this.lastState.get(name)?.role : undefined;
    if (known) return known;
    return resolveRole({ labels: view.metadata?.labels ?? {}, ownRoleLabel: this.o.names.labels.role })?.role;
  }

  /** May this node get a new taint? False (with a warning and an Event, once) when the breaker is open. */
  private taintAllowed(node: NodeView, desired: DesiredNodeState): boolean {
    const decision = this.breaker.admit(node, desired);
    if (decision.allowed) return true;
    this.o.metrics.breakerSkipped.inc({ role: desired.role });
    const notice = decision.notice;
    if (notice) {
      const { tainted, roleNodes, allowed } = notice;
      this.o.logger.warn(
        { node: desired.node, role: desired.role, tainted, roleNodes, allowed },
        `taint circuit breaker open: ${notice.message}`,
      );
      void this.emitEvent(node, desired.node, 'TaintCircuitBreakerOpen', notice.message, 'Warning');
    }
    return false;
  }

  private async emitEvent(
    view: NodeView | undefined,
    node: string,
    reason: string,
    message: string,
    type: EventType,
  ): Promise<void> {
    const body = eventBody({
      namespace: this.o.eventNamespace,
      about: { kind: 'Node', name: node, uid: view?.metadata?.uid },
      reason,
      message,
      type,
      component: this.o.names.component,
      nowMs: this.now(),
    });
    this.changeLog.record(node, 'event', `${type} ${reason}: ${message}`, body);
    if (this.o.dryRun) return;
    try {
      await this.call('event', node, () => this.o.api.createEvent(this.o.eventNamespace, body));
    } catch (err) {
      // An event is informative: losing one must not undo or repeat the patches.
      this.o.logger.warn(
        { node, reason, err: errorMessage(err, { firstLine: true }) },
        'could not create event',
      );
    }
  }

  private async reconcile(state: NodeState): Promise<void> {
    const { names } = this.o;
    let node = this.o.cache.get(state.node);
    if (!node) node = await this.read(state.node);
    if (optOuts(node, names).paused) {
      this.o.logger.debug({ node: state.node }, `${names.annotations.paused}=true: nothing written`);
      return;
    }
    let desired = this.desiredOf(node, state);
    const held = this.guardHolds(node, desired);
    if (held) desired = heldState(desired, names, node.metadata?.labels ?? {});
    if (desired.taint !== 'present') this.breaker.notWanted(state.node, desired.taint);
    const before = node;
    node = await this.writeNode(node, desired);
    // A held node keeps the condition it has: OSMO goes on reading the previous verdict.
    const conditionPlanned = !held && (await this.writeCondition(node, desired, state.stale));
    if (
      !held &&
      !conditionPlanned &&
      node === before &&
      !this.o.dryRun &&
      node === this.o.cache.get(state.node)
    ) {
      this.quiet.record(state, node, names.conditionType, this.o.heartbeatThrottleMs);
    }
  }

  /** No work pending, running or waiting for a retry for the node. */
  private nodeIdle(node: string): boolean {
    const slot = this.slots.get(node);
    return slot === undefined || (!slot.running && !slot.timer && slot.pending === undefined);
  }

  /** The desired state, with the node's taint opt-out applied. */
  private desiredOf(view: NodeView, state: NodeState): DesiredNodeState {
    const { names } = this.o;
    const desired = desiredState(state, names, this.o.desired, conditionOf(view, names.conditionType));
    return optOuts(view, names).noTaint ? { ...desired, taint: 'absent' } : desired;
  }

  /** Does the mass-change guard hold this node's transition? The first hold of a role is announced. */
  private guardHolds(view: NodeView, desired: DesiredNodeState): boolean {
    const { names } = this.o;
    const decision = this.guard.decide({
      node: desired.node,
      role: desired.role,
      current: conditionOf(view, names.conditionType)?.status,
      desired: desired.condition,
      accept: view.metadata?.annotations?.[names.annotations.acceptTransition],
    });
    this.updateGuardMetric();
    if (!decision.hold) return false;
    if (decision.firstOfRole) {
      const message =
        `holding ${desired.role} nodes' transitions to ${names.conditionType}=${decision.held.to}: more than ` +
        `${this.o.guardMaxPercent ?? 30}% of the role would change at once (a bad spec, a broken probe, an ` +
        `agent roll-out?); see GET /api/v1/guard; accept a node with kubectl annotate --overwrite node NAME ` +
        `${names.annotations.acceptTransition}=$(date -u +%Y-%m-%dT%H:%M:%SZ)`;
      this.o.logger.warn({ node: desired.node, role: desired.role }, `mass-change guard: ${message}`);
      void this.emitEvent(view, desired.node, 'MassChangeHeld', message, 'Warning');
    }
    return true;
  }

  private updateGuardMetric(): void {
    const byRole = this.guard.heldByRole();
    this.o.metrics.guardHeld.reset();
    for (const [role, n] of byRole) this.o.metrics.guardHeld.set({ role }, n);
  }

  /** Nodes of a role in the cache, counted at most once a second (a flood decides thousands of nodes). */
  private roleNodeCount(role: Role): number {
    const now = this.now();
    if (!this.roleCounts || now - this.roleCounts.at >= 1000 || now < this.roleCounts.at) {
      const counts = new Map<Role | undefined, number>();
      for (const view of this.o.cache.all()) {
        const r = this.roleOf(view);
        counts.set(r, (counts.get(r) ?? 0) + 1);
      }
      this.roleCounts = { at: now, counts };
    }
    return this.roleCounts.counts.get(role) ?? 0;
  }

  private async read(name: string): Promise<NodeView> {
    const node = await this.call('read', name, () => this.o.api.readNode(name));
    this.o.cache.observe(node);
    return node;
  }

  /**
   * The Node object: labels, ownership annotations, taints, in one patch; 409 → re-read, retry. Returns
   * the node as it is afterwards.
   */
  private async writeNode(start: NodeView, desired: DesiredNodeState): Promise<NodeView> {
    const name = desired.node;
    let node = start;
    for (let attempt = 1; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      const plan = planNodePatch(node, desired, this.o.names, {
        allowRemoval: this.reported.has(name),
        taintAllowed: this.taintAllowed(node, desired),
        taintRemovalForced: optOuts(node, this.o.names).noTaint,
      });
      if (!plan) break;
      this.changeLog.record(name, 'node-patch', plan.summary.join(', '), plan.body);
      if (this.o.dryRun) break;
      try {
        node = await this.call('node-patch', name, () => this.o.api.patchNode(name, plan.body));
        this.o.cache.observe(node);
        break;
      } catch (err) {
        if (apiStatus(err) !== 409 || attempt === MAX_CONFLICT_RETRIES) {
          this.breaker.release(name);
          throw err;
        }
        this.o.metrics.conflicts.inc();
        this.o.logger.debug({ node: name, attempt }, 'node changed under us (409); re-reading');
        node = await this.read(name);
      }
    }
    this.breaker.release(name);
    return node;
  }

  /** The condition, alone, on nodes/status; an Event on every verdict transition. */
  /** Whether a condition patch was planned (and, unless dry-run, written). */
  private async writeCondition(node: NodeView, desired: DesiredNodeState, stale: boolean): Promise<boolean> {
    const name = desired.node;
    // A stale node's condition carries no news, so no heartbeat: it keeps when the node went quiet, and a
    // restart over an already-Unknown node rewrites nothing.
    const throttle = stale ? Number.POSITIVE_INFINITY : this.o.heartbeatThrottleMs;
    const status = planStatusPatch(node, desired.condition, this.now(), throttle);
    if (!status) return false;
    this.changeLog.record(name, 'status-patch', status.summary, status.body);
    if (!this.o.dryRun) {
      const updated = await this.call('status-patch', name, () =>
        this.o.api.patchNodeStatus(name, status.body),
      );
      this.o.cache.observe(updated);
    }
    if (status.transition) {
      const event = verdictEvent(desired.condition);
      await this.emitEvent(node, name, event.reason, event.message, event.type);
    }
    return true;
  }
}
