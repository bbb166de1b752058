// The latest report and evaluation per node, and staleness. A node not heard from for `staleAfterMs` is
// stale: its verdict is `unknown` (never `pass`), and the ReconcileSink hears about each transition.
// The store is memory only, so after a restart it also watches the nodes the cluster says we manage (our
// managed-labels annotation) that have not reported to this process: each gets a deadline, and one that
// passes without a report makes the node stale too (its condition Unknown, conformant=unknown).
// Standalone (no cluster to bound the names) it holds at most `maxNodes` nodes — a new one past it is
// refused, a known one keeps reporting — and forgets a node silent for `forgetAfterMs`.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { NodeResult, Report, Role } from '../report/schema.js';
import type { ClusterView, NodeState, NodeVerdict, ReconcileSink } from './contracts.js';
import { isoTime } from './iso-time.js';

export interface StoredNode {
  report: Report;
  result: NodeResult;
  /** ms since the epoch when the latest report was accepted. */
  lastSeen: number;
  /** Whether the sink was last told this node is stale (to notice transitions). */
  notifiedStale: boolean;
}

export interface NodeView {
  name: string;
  role: Role;
  verdict: NodeVerdict;
  stale: boolean;
  lastReportAt: string;
  result: NodeResult;
  report: Report;
}

/** A node carrying our managed-labels annotation, as the cluster shows it. */
export interface ManagedNode {
  name: string;
  /** From our role label; undefined when missing or not a role (such a node is left alone). */
  role: Role | undefined;
  /** Our condition's lastHeartbeatTime (ms since the epoch), when it has one. */
  lastHeartbeatMs: number | undefined;
}

/** One verdict transition of a node as this process saw it (memory only, bounded per node). */
export interface VerdictTransition {
  at: string;
  /** null for the node's first verdict in this process. */
  from: NodeVerdict | null;
  to: NodeVerdict;
}

/** Transitions kept per node: the newest, enough for "when did it start failing" without growing. */
export const HISTORY_PER_NODE = 20;

/** A node of the cluster that has not reported to this process. */
export interface UnreportedNode {
  name: string;
  role: Role;
  verdict: 'unknown';
  /** True once its deadline passed (the reconciler was told). */
  stale: boolean;
  /** Our condition's last heartbeat (written by an earlier process on a report), or null. */
  lastReportAt: string | null;
  /** `never reported`, or `stale since …` for a node we manage silent since this process started. */
  reason: string;
}

/** A node of the cluster we do not manage (no managed-labels annotation): its agent never reported. */
export interface ClusterNodeRef {
  name: string;
  /** From its labels; the default role when nothing names one. */
  role: Role;
}

interface Unreported {
  role: Role;
  lastHeartbeatMs: number | undefined;
  deadline: number;
  notified: boolean;
  /** Not managed by us: its agent never reported to any aggregator. */
  never: boolean;
}

export interface NodeStoreOptions {
  staleAfterMs: number;
  sink?: ReconcileSink | undefined;
  /** Where forgotten nodes are detected (absent from a synced cluster); optional. */
  cluster?: ClusterView | undefined;
  /** How often the sweep runs; default a quarter of staleAfterMs, between 1 s and 30 s. */
  sweepIntervalMs?: number;
  /** A node absent from the cluster is forgotten only after this long without a report (informer lag). */
  forgetGraceMs?: number;
  /** Called when the sink throws, so a broken sink never fails a request. */
  onSinkError?: (err: unknown) => void;
  /** The nodes the cluster says we manage (read only once `cluster` has synced). */
  managedNodes?: () => ManagedNode[];
  /** Every node of the cluster (read only once `cluster` has synced); those not managed never reported. */
  clusterNodes?: () => ClusterNodeRef[];
  /** A node that never reported turns Unknown (NoAgentReport) this long after the first sync (default 15 min). */
  neverReportedGraceMs?: number;
  /** At most this many nodes (standalone: --max-nodes); a new node beyond it is refused. Default: no cap. */
  maxNodes?: number | undefined;
  /** A node silent this long is forgotten (standalone: --forget-after). Default: never. */
  forgetAfterMs?: number | undefined;
  /** Called for each node forgotten for its silence (forgetAfterMs), with how long it was silent. */
  onForgotten?: (node: string, silentMs: number) => void;
}

export interface ReevaluateOptions {
  /** Reports evaluated between two yields to the event loop (default 200). */
  batchSize?: number;
  now?: () => number;
  /** An evaluation threw: the node keeps its previous result. */
  onEvaluateError?: (node: string, err: unknown) => void;
}

export interface ReevaluateOutcome {
  /** Stored reports evaluated again. */
  evaluated: number;
  /** Nodes whose result changed in a way the sink acts on, and that were not stale (sink told). */
  notified: number;
}

export class NodeStore {
  readonly staleAfterMs: number;
  /** The cap on nodes held; undefined = none (with Kubernetes the cluster bounds the names). */
  readonly maxNodes: number | undefined;
  /** Silence after which a node is forgotten; undefined = never (with Kubernetes: when it leaves the cluster). */
  readonly forgetAfterMs: number | undefined;
  private readonly onForgotten: (node: string, silentMs: number) => void;
  private readonly nodes = new Map<string, StoredNode>();
  private readonly sink: ReconcileSink | undefined;
  private readonly cluster: ClusterView | undefined;
  private readonly sweepIntervalMs: number;
  private readonly forgetGraceMs: number;
  private readonly onSinkError: (err: unknown) => void;
  private readonly managedNodes: (() => ManagedNode[]) | undefined;
  private readonly clusterNodes: (() => ClusterNodeRef[]) | undefined;
  private readonly neverReportedGraceMs: number;
  /**
   * When a sweep first found the cluster synced. Agents cannot report before that (/readyz keeps them
   * away until the first node list) and back off for minutes while refused, so deadlines count from here.
   */
  private firstSyncAt: number | undefined;
  /** Managed nodes without a report in this process, by name. */
  private readonly unreported = new Map<string, Unreported>();
  /** Verdict transitions per node, oldest first, at most HISTORY_PER_NODE each. */
  private readonly transitions = new Map<string, VerdictTransition[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: NodeStoreOptions) {
    if (!(options.staleAfterMs > 0)) throw new Error('staleAfterMs must be positive');
    this.staleAfterMs = options.staleAfterMs;
    this.sink = options.sink;
    this.cluster = options.cluster;
    this.sweepIntervalMs =
      options.sweepIntervalMs ?? Math.min(30_000, Math.max(1_000, Math.floor(options.staleAfterMs / 4)));
    this.forgetGraceMs = options.forgetGraceMs ?? 60_000;
    this.onSinkError = options.onSinkError ?? (() => {});
    this.managedNodes = options.managedNodes;
    this.clusterNodes = options.clusterNodes;
    this.neverReportedGraceMs = options.neverReportedGraceMs ?? 900_000;
    if (options.maxNodes !== undefined && !(options.maxNodes >= 1)) throw new Error('maxNodes must be ≥ 1');
    this.maxNodes = options.maxNodes;
    if (options.forgetAfterMs !== undefined && !(options.forgetAfterMs > this.staleAfterMs)) {
      throw new Error(
        'forgetAfterMs must be longer than staleAfterMs (a node is stale before it is forgotten)',
      );
    }
    this.forgetAfterMs = options.forgetAfterMs;
    this.onForgotten = options.onForgotten ?? (() => {});
  }

  /** Whether a report of `name` may be stored: a known node always, a new one while under maxNodes. */
  admits(name: string): boolean {
    return this.maxNodes === undefined || this.nodes.size < this.maxNodes || this.nodes.has(name);
  }

  /** Record an accepted, evaluated report and tell the sink. */
  accept(report: Report, result: NodeResult, now = Date.now()): NodeView {
    const previous = this.nodes.get(report.node);
    // A managed node listed stale before its first report here was `unknown`.
    const silent = this.unreported.get(report.node)?.notified ? 'unknown' : null;
    const before = previous ? this.verdictOf(previous, now) : silent;
    // The node's entry is updated in place (as reevaluate does): a report replaces what it holds, and an
    // entry per report would be one more object per report to outlive the young generation.
    let entry = previous;
    if (entry === undefined) {
      entry = { report, result, lastSeen: now, notifiedStale: false };
      this.nodes.set(report.node, entry);
    } else {
      entry.report = report;
      entry.result = result;
      entry.lastSeen = now;
      entry.notifiedStale = false;
    }
    this.unreported.delete(report.node);
    const view = this.view(report.node, entry, now);
    this.recordTransition(report.node, before, view.verdict, now);
    this.notify(view);
    return view;
  }

  /** The node's latest stored report and result, as stored (no view built). */
  latest(name: string): { report: Report; result: NodeResult } | undefined {
    return this.nodes.get(name);
  }

  get(name: string, now = Date.now()): NodeView | undefined {
    const entry = this.nodes.get(name);
    return entry ? this.view(name, entry, now) : undefined;
  }

  list(now = Date.now()): NodeView[] {
    const out: NodeView[] = [];
    for (const [name, entry] of this.nodes) out.push(this.view(name, entry, now));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  size(): number {
    return this.nodes.size;
  }

  /** The node's verdict transitions seen by this process, oldest first (bounded). */
  history(name: string): VerdictTransition[] {
    return [...(this.transitions.get(name) ?? [])];
  }

  /** Managed nodes that never reported to this process and are past their deadline (stale, `unknown`). */
  unreportedStale(): UnreportedNode[] {
    return this.unreportedNodes().filter((n) => n.stale);
  }

  /** Every node of the cluster without a report in this process, verdict `unknown`, with the reason. */
  unreportedNodes(): UnreportedNode[] {
    const out: UnreportedNode[] = [];
    for (const [name, u] of this.unreported) {
      if (this.nodes.has(name)) continue;
      const at = u.lastHeartbeatMs === undefined ? null : new Date(u.lastHeartbeatMs).toISOString();
      const reason = u.never
        ? 'never reported'
        : at
          ? `stale since ${at}`
          : 'no report since the aggregator started';
      out.push({ name, role: u.role, verdict: 'unknown', stale: u.notified, lastReportAt: at, reason });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The node's state now, staleness computed from its last report (a level the reconciler's resync
   * re-reads, so a missed stale transition is still written); a managed node past its deadline without a
   * report is stale too. Undefined for a node the store does not know.
   */
  stateOf(name: string, now = Date.now()): NodeState | undefined {
    const entry = this.nodes.get(name);
    if (entry) return toState(this.view(name, entry, now));
    const u = this.unreported.get(name);
    if (u?.notified) return unreportedState(name, u);
    return undefined;
  }

  /** The states as the reconciler sees them (for cluster checks). */
  states(now = Date.now()): NodeState[] {
    return this.list(now).map(toState);
  }

  /**
   * Evaluate every stored node's latest report again (a new spec is in force), in batches with a yield to
   * the event loop between them so reports and API requests keep being served. Each new result replaces the
   * stored one (lastSeen is kept: this is not a report). The sink hears about a node only when what it acts
   * on changed (verdict, role, check statuses) and the node is not stale: a stale node stays `unknown` until
   * it reports again, and an unchanged outcome costs the reconciler nothing.
   */
  async reevaluate(
    evaluate: (report: Report) => NodeResult,
    options: ReevaluateOptions = {},
  ): Promise<ReevaluateOutcome> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 200));
    const now = options.now ?? Date.now;
    // A snapshot of names: nodes reported after the new spec took effect were evaluated against it already,
    // and re-evaluating them again is harmless (their latest report, the same spec → no change).
    const names = [...this.nodes.keys()];
    let evaluated = 0;
    let notified = 0;
    for (let i = 0; i < names.length; i += batchSize) {
      if (i > 0) await yieldToEventLoop();
      const at = now();
      for (const name of names.slice(i, i + batchSize)) {
        const entry = this.nodes.get(name);
        if (!entry) continue; // forgotten meanwhile
        let result: NodeResult;
        try {
          result = evaluate(entry.report);
        } catch (err) {
          // One bad evaluation must not stop the others; the node keeps its previous result.
          options.onEvaluateError?.(name, err);
          continue;
        }
        evaluated++;
        const before = entry.result;
        entry.result = result;
        if (!this.isStale(entry, at)) this.recordTransition(name, before.verdict, result.verdict, at);
        if (this.isStale(entry, at) || !actsDifferently(before, result)) continue;
        notified++;
        this.notify(this.view(name, entry, at));
      }
    }
    return { evaluated, notified };
  }

  /** Drop a node (it left the cluster); tells the sink. */
  forget(name: string): boolean {
    this.unreported.delete(name);
    this.transitions.delete(name);
    const had = this.nodes.delete(name);
    if (had) {
      try {
        this.sink?.forget(name);
      } catch (err) {
        this.onSinkError(err);
      }
    }
    return had;
  }

  /** One pass: notify stale transitions, forget nodes the cluster no longer has and those silent too long. */
  sweep(now = Date.now()): void {
    this.sweepUnreported(now);
    const present = this.cluster?.synced() ? new Set(this.cluster.nodeNames()) : undefined;
    for (const [name, entry] of [...this.nodes]) {
      const silentMs = now - entry.lastSeen;
      if (present && !present.has(name) && silentMs >= this.forgetGraceMs) {
        this.forget(name);
        continue;
      }
      if (this.forgetAfterMs !== undefined && silentMs >= this.forgetAfterMs) {
        this.forget(name);
        this.onForgotten(name, silentMs);
        continue;
      }
      const stale = this.isStale(entry, now);
      if (stale && !entry.notifiedStale) {
        entry.notifiedStale = true;
        this.recordTransition(name, entry.result.verdict, 'unknown', now);
        this.notify(this.view(name, entry, now));
      }
    }
  }

  /**
   * Managed nodes that have not reported here: a deadline when first seen after the cluster synced, the
   * later of (first sync + staleAfterMs) and (our condition's heartbeat + staleAfterMs), so every agent
   * has a full staleAfterMs to reach this process once it accepts reports; and one stale NodeState for the
   * sink when it passes. The sink leaves taints as they are for stale nodes.
   */
  private sweepUnreported(now: number): void {
    if (!this.managedNodes || !this.cluster?.synced()) return;
    this.firstSyncAt ??= now;
    const seen = new Set<string>();
    for (const m of this.managedNodes()) {
      if (this.nodes.has(m.name) || m.role === undefined) continue;
      seen.add(m.name);
      let u = this.unreported.get(m.name);
      if (!u) {
        const fromSync = this.firstSyncAt + this.staleAfterMs;
        const deadline =
          m.lastHeartbeatMs === undefined
            ? fromSync
            : Math.max(fromSync, m.lastHeartbeatMs + this.staleAfterMs);
        u = { role: m.role, lastHeartbeatMs: m.lastHeartbeatMs, deadline, notified: false, never: false };
        this.unreported.set(m.name, u);
      }
      u.role = m.role;
      u.never = false;
      this.notifyUnreported(m.name, u, now);
    }
    for (const c of this.clusterNodes?.() ?? []) {
      if (this.nodes.has(c.name) || seen.has(c.name)) continue;
      seen.add(c.name);
      let u = this.unreported.get(c.name);
      if (!u) {
        const deadline = this.firstSyncAt + this.neverReportedGraceMs;
        u = { role: c.role, lastHeartbeatMs: undefined, deadline, notified: false, never: true };
        this.unreported.set(c.name, u);
      }
      u.role = c.role;
      this.notifyUnreported(c.name, u, now);
    }
    // Gone from the cluster, or no longer ours (pruned): nothing to watch.
    for (const name of [...this.unreported.keys()]) if (!seen.has(name)) this.unreported.delete(name);
  }

  /** Past its deadline: the sink hears once that the node is stale (never reported: NoAgentReport). */
  private notifyUnreported(name: string, u: Unreported, now: number): void {
    if (u.notified || now < u.deadline) return;
    u.notified = true;
    try {
      this.sink?.update(unreportedState(name, u));
    } catch (err) {
      this.onSinkError(err);
    }
  }

  /** Start the periodic sweep; the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Appends a transition when the verdict changed (or is the node's first), dropping the oldest. */
  private recordTransition(name: string, from: NodeVerdict | null, to: NodeVerdict, now: number): void {
    if (from === to) return;
    let list = this.transitions.get(name);
    if (!list) {
      list = [];
      this.transitions.set(name, list);
    }
    list.push({ at: new Date(now).toISOString(), from, to });
    if (list.length > HISTORY_PER_NODE) list.splice(0, list.length - HISTORY_PER_NODE);
  }

  private isStale(entry: StoredNode, now: number): boolean {
    return now - entry.lastSeen >= this.staleAfterMs;
  }

  private verdictOf(entry: StoredNode, now: number): NodeView['verdict'] {
    return this.isStale(entry, now) ? 'unknown' : entry.result.verdict;
  }

  private view(name: string, entry: StoredNode, now: number): NodeView {
    const stale = this.isStale(entry, now);
    return {
      name,
      role: entry.result.role,
      verdict: stale ? 'unknown' : entry.result.verdict,
      stale,
      lastReportAt: isoTime(entry.lastSeen),
      result: entry.result,
      report: entry.report,
    };
  }

  private notify(view: NodeView): void {
    if (!this.sink) return;
    try {
      this.sink.update(toState(view));
    } catch (err) {
      this.onSinkError(err);
    }
  }
}

/** Whether the reconciler would see a difference: verdict, role, or the id/status of any check. */
function actsDifferently(a: NodeResult, b: NodeResult): boolean {
  if (a.verdict !== b.verdict || a.role !== b.role || a.checks.length !== b.checks.length) return true;
  for (let i = 0; i < a.checks.length; i++) {
    const x = a.checks[i];
    const y = b.checks[i];
    if (x?.id !== y?.id || x?.status !== y?.status) return true;
  }
  return false;
}

function toState(view: NodeView): NodeState {
  return { node: view.name, role: view.role, verdict: view.verdict, stale: view.stale, result: view.result };
}

function unreportedState(name: string, u: Unreported): NodeState {
  return {
    node: name,
    role: u.role,
    verdict: 'unknown',
    stale: true,
    result: null,
    ...(u.never ? { neverReported: true } : {}),
  };
}
