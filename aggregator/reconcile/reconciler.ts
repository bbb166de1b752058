// The writer: per-node coalescing queue, bounded concurrency, token-bucket rate limit, per-node
// exponential backoff, 429 Retry-After, 409 re-read-and-retry, the taint circuit breaker, events and
// dry-run. It reads nodes from the informer cache and writes at most one Node patch and one
// nodes/status patch per change.

import { isRole } from '../../report/constants.js';
import { errorMessage } from '../../report/error-message.js';
import type { Role } from '../../report/schema.js';
import { roleFromLabels } from '../../spec/role.js';
import type { NodeState, PlannedChange, StructuredLogger } from '../contracts.js';
import { apiStatus } from '../k8s/api-errors.js';
import type { Names } from '../k8s/names.js';
import { backoffMs, retryAfterMs, Semaphore, type TokenBucket } from '../k8s/rate-limit.js';
import { allowedTainted, breakerAllows } from './breaker.js';
import { type DesiredConfig, type DesiredNodeState, desiredState } from './desired.js';
import { hasOurTaint, ownsTaint, planNodePatch, planStatusPatch } from './diff.js';
import { type EventBody, nodeEvent } from './events.js';
import type { ReconcileMetrics } from './metrics.js';
import { conditionOf, type NodeView } from './node-view.js';

export interface KubeApi {
  /** JSON merge patch of the Node object (labels, annotations, taints, resourceVersion). */
  patchNode(name: string, body: unknown): Promise<NodeView>;
  /** Strategic merge patch of nodes/status: conditions merge by type, so the kubelet's survive. */
  patchNodeStatus(name: string, body: unknown): Promise<NodeView>;
  readNode(name: string): Promise<NodeView>;
  createEvent(namespace: string, body: EventBody): Promise<void>;
}

export interface NodeCache {
  get(name: string): NodeView | undefined;
  all(): NodeView[];
  observe(node: NodeView): void;
  evict(name: string): void;
}

export type ReconcileLogger = StructuredLogger;

export interface ReconcilerOptions {
  api: KubeApi;
  cache: NodeCache;
  names: Names;
  desired: DesiredConfig;
  dryRun: boolean;
  maxTaintedPercent: number;
  heartbeatThrottleMs: number;
  eventNamespace: string;
  concurrency: number;
  limiter: TokenBucket;
  metrics: ReconcileMetrics;
  logger: ReconcileLogger;
  /** Attempts per desired state before giving up until the next update. */
  maxAttempts?: number;
  backoffBaseMs?: number;
  now?: () => number;
}

function headerOf(err: unknown, name: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const headers = (err as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name && typeof v === 'string') return v;
  }
  return undefined;
}

const PLAN_KINDS: readonly PlannedChange['kind'][] = ['node-patch', 'status-patch', 'event'];

/**
 * What makes two plans the same, without serialising bodies: a node patch's summary lists every label value,
 * removal and taint (the ownership annotations follow from them); an event's summary carries its type,
 * reason and message; a status patch's summary leaves out the message, so it is added (times are not: a
 * heartbeat differs on every plan).
 */
function planSignature(kind: PlannedChange['kind'], summary: string, body: unknown): string {
  if (kind !== 'status-patch') return summary;
  const condition = (body as { status?: { conditions?: Array<Record<string, unknown>> } }).status
    ?.conditions?.[0];
  return `${summary}\0${String(condition?.['status'])}\0${String(condition?.['reason'])}\0${String(condition?.['message'])}`;
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

const MAX_CHANGES = 1000;
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
  /** Nodes being tainted right now (or planned, in dry-run): counted by the breaker. */
  private readonly reservations = new Set<string>();
  private readonly breakerNotified = new Set<string>();
  private readonly semaphore: Semaphore;
  private readonly log: PlannedChange[] = [];
  /** Dry-run: the last recorded plan's signature per node and kind (`node\0kind`), to record a plan once. */
  private readonly lastPlanned = new Map<string, string>();
  private readonly now: () => number;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.semaphore = new Semaphore(options.concurrency);
    this.now = options.now ?? Date.now;
  }

  update(state: NodeState): void {
    if (this.stopped) return;
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
    this.reservations.delete(node);
    this.breakerNotified.delete(node);
    for (const kind of PLAN_KINDS) this.lastPlanned.delete(`${node}\0${kind}`);
    this.updateDepth();
  }

  changes(node?: string): PlannedChange[] {
    return node === undefined ? [...this.log] : this.log.filter((c) => c.node === node);
  }

  stop(): void {
    this.stopped = true;
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
        slot.attempt++;
        slot.pending ??= state;
        const max = this.o.maxAttempts ?? 8;
        if (slot.attempt >= max) {
          this.o.logger.error(
            { node, attempts: slot.attempt, err: errorMessage(err, { firstLine: true }) },
            'giving up reconciling node until its next update',
          );
          if (slot.pending === state) slot.pending = undefined;
          slot.attempt = 0;
          return;
        }
        const delay = backoffMs(slot.attempt, this.o.backoffBaseMs ?? 1000, 300_000);
        this.o.logger.warn(
          { node, attempt: slot.attempt, retryInMs: delay, err: errorMessage(err, { firstLine: true }) },
          'reconcile failed',
        );
        slot.timer = setTimeout(() => {
          slot.timer = undefined;
          this.kick(node);
        }, delay);
        slot.timer.unref();
        return;
      }
    }
  }

  private record(node: string, kind: PlannedChange['kind'], summary: string, body: unknown): void {
    const applied = !this.o.dryRun;
    if (this.o.dryRun) {
      // Nothing is written, so the same plan recurs on every report: record it once. O(1) per report: a
      // signature per node and kind, not a search of the log (which also forgets a node's plan after 1000
      // other changes, and would record it again).
      const key = `${node}\0${kind}`;
      const signature = planSignature(kind, summary, body);
      if (this.lastPlanned.get(key) === signature) return;
      this.lastPlanned.set(key, signature);
      this.o.logger.info({ node, kind, summary, body }, 'dry-run: planned change (not written)');
    }
    this.log.push({ node, kind, summary, body, applied, at: new Date(this.now()).toISOString() });
    if (this.log.length > MAX_CHANGES) this.log.splice(0, this.log.length - MAX_CHANGES);
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
          const wait = retryAfterMs(headerOf(err, 'retry-after'), Date.now()) ?? 1000;
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

  private roleOf(view: NodeView): Role | undefined {
    const name = view.metadata?.name;
    const known = name ? this.lastState.get(name)?.role : undefined;
    if (known) return known;
    const labels = view.metadata?.labels ?? {};
    const fromLabels = roleFromLabels(labels)?.role;
    if (fromLabels) return fromLabels;
    const ours = labels[this.o.names.labels.role];
    return isRole(ours) ? ours : undefined;
  }

  /** May this node get a new taint? False (with a warning, once) when the breaker is open. */
  private breaker(node: NodeView, desired: DesiredNodeState): boolean {
    if (desired.taint !== 'present' || hasOurTaint(node, this.o.names)) return true;
    if (this.reservations.has(desired.node)) return true;
    const sameRole = this.o.cache.all().filter((n) => this.roleOf(n) === desired.role);
    const roleNodes = Math.max(sameRole.length, 1);
    const tainted = new Set(
      sameRole.filter((n) => ownsTaint(n, this.o.names)).map((n) => n.metadata?.name ?? ''),
    );
    for (const r of this.reservations) if (this.lastState.get(r)?.role === desired.role) tainted.add(r);
    tainted.delete(desired.node);
    const input = { roleNodes, tainted: tainted.size, maxTaintedPercent: this.o.maxTaintedPercent };
    if (breakerAllows(input)) {
      this.reservations.add(desired.node);
      return true;
    }
    this.o.metrics.breakerSkipped.inc({ role: desired.role });
    if (!this.breakerNotified.has(desired.node)) {
      this.breakerNotified.add(desired.node);
      const allowed = allowedTainted(roleNodes, this.o.maxTaintedPercent);
      const message =
        `not tainting ${desired.node}: ${tainted.size} of ${roleNodes} ${desired.role} node(s) are already tainted ` +
        `and at most ${allowed} (${this.o.maxTaintedPercent}%) may be; fix the failing nodes, or override with ` +
        `--max-tainted-percent`;
      this.o.logger.warn(
        { node: desired.node, role: desired.role, tainted: tainted.size, roleNodes, allowed },
        `taint circuit breaker open: ${message}`,
      );
      void this.emitEvent(node, desired.node, 'TaintCircuitBreakerOpen', message, 'Warning');
    }
    return false;
  }

  private async emitEvent(
    view: NodeView | undefined,
    node: string,
    reason: string,
    message: string,
    type: 'Normal' | 'Warning',
  ): Promise<void> {
    const body = nodeEvent(
      this.o.names,
      this.o.eventNamespace,
      { name: node, uid: view?.metadata?.uid },
      reason,
      message,
      type,
      this.now(),
    );
    this.record(node, 'event', `${type} ${reason}: ${message}`, body);
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
    if (!node) {
      node = await this.call('read', state.node, () => this.o.api.readNode(state.node));
      this.o.cache.observe(node);
    }
    const desired = desiredState(state, names, this.o.desired, conditionOf(node, names.conditionType));
    if (desired.taint !== 'present') {
      this.breakerNotified.delete(state.node);
      if (!this.o.dryRun || desired.taint === 'absent') this.reservations.delete(state.node);
    }

    // 1. The Node object: labels, ownership annotations, taints, in one patch; 409 → re-read, retry.
    for (let attempt = 1; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      const taintAllowed = this.breaker(node, desired);
      const plan = planNodePatch(node, desired, names, {
        allowRemoval: this.reported.has(state.node),
        taintAllowed,
      });
      if (!plan) break;
      this.record(state.node, 'node-patch', plan.summary.join(', '), plan.body);
      if (this.o.dryRun) break;
      try {
        const updated = await this.call('node-patch', state.node, () =>
          this.o.api.patchNode(state.node, plan.body),
        );
        this.o.cache.observe(updated);
        node = updated;
        break;
      } catch (err) {
        if (apiStatus(err) !== 409 || attempt === MAX_CONFLICT_RETRIES) {
          if (!this.o.dryRun) this.reservations.delete(state.node);
          throw err;
        }
        this.o.metrics.conflicts.inc();
        this.o.logger.debug({ node: state.node, attempt }, 'node changed under us (409); re-reading');
        node = await this.call('read', state.node, () => this.o.api.readNode(state.node));
        this.o.cache.observe(node);
      }
    }
    if (!this.o.dryRun) this.reservations.delete(state.node);

    // 2. The condition, alone, on nodes/status.
    // A stale node's condition carries no news, so no heartbeat: it keeps when the node went quiet, and a
    // restart over an already-Unknown node rewrites nothing.
    const throttle = state.stale ? Number.POSITIVE_INFINITY : this.o.heartbeatThrottleMs;
    const status = planStatusPatch(node, desired.condition, this.now(), throttle);
    if (status) {
      this.record(state.node, 'status-patch', status.summary, status.body);
      if (!this.o.dryRun) {
        const updated = await this.call('status-patch', state.node, () =>
          this.o.api.patchNodeStatus(state.node, status.body),
        );
        this.o.cache.observe(updated);
      }
      // 3. An event on every verdict transition.
      if (status.transition) {
        const c = desired.condition;
        const message =
          c.status === 'True'
            ? `node does not meet the OSMO baseline; ${c.message}`
            : c.status === 'False'
              ? `node meets the OSMO baseline (${c.message})`
              : `node state unknown: ${c.message}`;
        await this.emitEvent(node, state.node, c.reason, message, c.status === 'True' ? 'Warning' : 'Normal');
      }
    }
  }
}
