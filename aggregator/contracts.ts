// How the aggregator's parts plug together: the HTTP server and store on one side, the Kubernetes
// integration (informer, reconciler, TokenReview) on the other. aggregator-command.ts wires them.
import type { NodeResult, Role } from '../report/schema.js';

export type NodeVerdict = 'pass' | 'warn' | 'fail' | 'unknown';

/** What the store tells the reconciler after each accepted report, and when a node goes stale. */
export interface NodeState {
  node: string;
  role: Role;
  /** `unknown` when stale. */
  verdict: NodeVerdict;
  stale: boolean;
  /** The latest evaluation (kept while stale, for informative labels). */
  result: NodeResult | null;
  /** A node of the cluster whose agent never reported (condition Unknown, reason NoAgentReport). */
  neverReported?: boolean;
}

export interface ReconcileSink {
  /** Called after every accepted report and every stale transition; must not throw or block the request. */
  update(state: NodeState): void;
  /** The node left the cluster or the store. */
  forget(node: string): void;
}

/** The cluster as the informer sees it: labels for role derivation and the node.label check. */
export interface ClusterView {
  /**
   * Labels of a node; undefined when the node is not (yet) known. The object itself, not a copy: it is
   * replaced when the node changes, never edited, so whoever keeps it may compare it by identity.
   */
  labelsOf(node: string): Readonly<Record<string, string>> | undefined;
  /** The kubelet-reported container runtime (`containerd://1.7.27`), for the cluster checks. */
  runtimeVersionOf(node: string): string | undefined;
  nodeNames(): string[];
  /** True once the first list has completed. */
  synced(): boolean;
}

/** Authentication of an agent's request. */
export type AuthOutcome =
  | { ok: true; identity: string }
  | { ok: false; status: 401 | 403 | 503; reason: string };

export interface AgentAuthenticator {
  /** `token` is the bearer token (undefined when absent); `node` the report's node name. */
  authenticate(token: string | undefined, node: string): Promise<AuthOutcome>;
  describe(): string;
}

/** A planned or applied change, served by the API (dry-run shows the plan). */
export interface PlannedChange {
  node: string;
  kind: 'node-patch' | 'status-patch' | 'event';
  summary: string;
  body: unknown;
  applied: boolean;
  at: string;
}

/** A transition the mass-change guard holds: the node keeps its previous condition, label and taint. */
export interface HeldTransition {
  node: string;
  role: Role;
  /** Our condition's status as the node has it (kept there): `False`, or `none`. */
  from: 'False' | 'none';
  to: 'True' | 'Unknown';
  /** The condition that would be written. */
  reason: string;
  message: string;
  /** When the hold began (RFC 3339). */
  since: string;
}

/** The mass-change guard as the API serves it. */
export interface GuardStatus {
  maxPercent: number;
  windowMs: number;
  /** The node annotation an operator sets to a time to accept the node's held transition. */
  acceptAnnotation: string;
  held: HeldTransition[];
}

/** What the API shows about one node on the Kubernetes side. */
export interface NodeClusterStatus {
  held: HeldTransition | null;
  /** Labels and taints with our keys that we did not write: left as they are, never adopted. */
  foreign: { labels: string[]; taints: string[] };
}

/** What is written on a Node for us, as the informer's cache shows it (the dashboard's "as written"). */
export interface WrittenNodeState {
  /** Our taint on the node, or null. */
  taint: { key: string; value?: string | undefined; effect: string } | null;
  /** Our condition on the node, or null. */
  condition: {
    type: string;
    status: string;
    reason?: string | undefined;
    message?: string | undefined;
  } | null;
}

/** The Kubernetes side as the aggregator command sees it (built by aggregator/kubernetes-integration.ts). */
export interface KubernetesIntegration {
  cluster: ClusterView;
  sink: ReconcileSink;
  /** Recent planned/applied changes, newest last (dry-run: planned only); optionally for one node. */
  changes(node?: string): PlannedChange[];
  /** Our taint and condition on the node as cached; undefined when the cluster does not know the node. */
  written(node: string): WrittenNodeState | undefined;
  /** Cluster-level checks for GET /api/v1/summary, from the nodes' latest states and the cluster. */
  clusterChecks(states: NodeState[]): Promise<import('../report/schema.js').CheckResult[]>;
  /** The mass-change guard: its settings and the transitions it holds. */
  guard(): GuardStatus;
  /** The Kubernetes side of one node (held transition, foreign objects, opt-outs). */
  nodeStatus(node: string): NodeClusterStatus;
  /** Readiness: synced with the API server. */
  ready(): { ok: boolean; reason?: string };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The structured logger the aggregator's parts take (pino's shape; tests pass small fakes). */
export interface StructuredLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
