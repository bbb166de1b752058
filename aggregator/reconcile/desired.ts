// The desired Kubernetes state of one node: a pure function of its NodeState, the names and the config.

import type { ProbeName, Role } from '../../report/schema.js';
import { failingCheckIds } from '../../spec/failing-checks.js';
import type { NodeState } from '../contracts.js';
import type { EventType } from '../k8s/events.js';
import { sanitizeLabelValue } from '../k8s/label-values.js';
import type { Names } from '../k8s/names.js';
import { type NodeConditionView, rfc3339, timeMs } from '../k8s/node-view.js';

// Re-exported for server/app.ts, which lists the failing checks of each node.

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface DesiredConfig {
  taintRoles: readonly Role[];
  taintEffect: TaintEffect;
}

export const DEFAULT_TAINT_ROLES: readonly Role[] = ['compute', 'gpu', 'jetson'];

export interface DesiredCondition {
  type: string;
  status: ConditionStatus;
  reason: 'BaselineNotMet' | 'BaselineMet' | 'NoRecentReport' | 'NoAgentReport';
  message: string;
}

export interface DesiredNodeState {
  node: string;
  role: Role;
  /** Every label we want on the node; owned labels not listed here are to be removed (when allowed). */
  labels: Record<string, string>;
  /** Owned labels whose source probe failed in this report: left exactly as they are (missing data removes nothing). */
  keepLabels: string[];
  condition: DesiredCondition;
  /** `unchanged`: leave our taint as it is (stale nodes). */
  taint: 'present' | 'absent' | 'unchanged';
  taintEffect: TaintEffect;
  /** Failing (fail or error) check ids, for messages and events. */
  failing: readonly string[];
}

const MAX_MESSAGE = 1024;

function clip(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 3)}...`;
}

function failingChecks(state: NodeState): readonly string[] {
  return failingCheckIds(state.result?.checks ?? []);
}

/**
 * Informative labels from the facts. A label whose probe could not finish this time is not derived from
 * the (null) fact: it is listed in `keep`, so the node keeps whatever value it has.
 */
function informativeLabels(
  state: NodeState,
  names: Names,
): { labels: Record<string, string>; keep: string[] } {
  const labels: Record<string, string> = {};
  const keep: string[] = [];
  const facts = state.result?.facts;
  if (!facts) return { labels, keep };
  const failed = new Set(state.result?.probeErrors.map((e) => e.probe));
  const put = (key: string, probes: ProbeName[], raw: string | null | undefined) => {
    if (probes.some((p) => failed.has(p))) {
      keep.push(key);
      return;
    }
    const value = sanitizeLabelValue(raw);
    if (value !== undefined) labels[key] = value;
  };
  put(names.labels.driverVersion, ['gpu'], facts.gpu?.driverVersion);
  put(names.labels.cudaVersion, ['gpu', 'jetson'], facts.gpu?.cudaVersion ?? facts.jetson?.cudaVersion);
  put(names.labels.jetpackVersion, ['jetson'], facts.jetson?.jetpackVersion);
  put(names.labels.containerdVersion, ['containerd'], facts.containerd?.version);
  return { labels, keep };
}

const NO_REPORT = "no recent report from the node's validator agent";

/**
 * The Unknown message. A node that never reported to this process (a restart) has no report to date it:
 * when an earlier process already said NoRecentReport its message stands (rewriting it would be a write
 * after every restart that only loses "since"); otherwise the since is our condition's last heartbeat,
 * written when that process last heard from the node.
 */
function staleMessage(state: NodeState, current: NodeConditionView | undefined): string {
  const collectedAt = state.result?.collectedAt;
  if (collectedAt) return `${NO_REPORT} since ${collectedAt}`;
  if (current?.status === 'Unknown' && current.reason === 'NoRecentReport' && current.message)
    return current.message;
  const heartbeat = current?.status === 'Unknown' ? undefined : timeMs(current?.lastHeartbeatTime);
  return heartbeat === undefined ? NO_REPORT : `${NO_REPORT} since ${rfc3339(heartbeat)}`;
}

/** `current`: our condition as the node has it now (dates a stale node that never reported to us). */
export function desiredState(
  state: NodeState,
  names: Names,
  config: DesiredConfig,
  current?: NodeConditionView,
): DesiredNodeState {
  const failing = failingChecks(state);
  const stale = state.stale || state.verdict === 'unknown';
  const conformant = stale ? 'unknown' : state.verdict === 'fail' ? 'false' : 'true';
  const informative = informativeLabels(state, names);
  // A node whose agent never reported: only what we know, that nothing vouches for it (no role label: its
  // role is a guess from its labels).
  const labels: Record<string, string> = state.neverReported
    ? { [names.labels.conformant]: 'unknown' }
    : { ...informative.labels, [names.labels.conformant]: conformant, [names.labels.role]: state.role };
  let condition: DesiredCondition;
  let taint: DesiredNodeState['taint'];
  if (state.neverReported) {
    condition = {
      type: names.conditionType,
      status: 'Unknown',
      reason: 'NoAgentReport',
      message: "the node's validator agent has never reported (not scheduled, crash-looping or blocked?)",
    };
    taint = 'unchanged';
  } else if (stale) {
    condition = {
      type: names.conditionType,
      status: 'Unknown',
      reason: 'NoRecentReport',
      message: clip(staleMessage(state, current)),
    };
    taint = 'unchanged';
  } else if (state.verdict === 'fail') {
    condition = {
      type: names.conditionType,
      status: 'True',
      reason: 'BaselineNotMet',
      message: clip(`failing checks: ${failing.length > 0 ? failing.join(', ') : '(none reported)'}`),
    };
    taint = config.taintRoles.includes(state.role) ? 'present' : 'absent';
  } else {
    const warned = (state.result?.checks ?? []).filter((c) => c.status === 'warn').map((c) => c.id);
    condition = {
      type: names.conditionType,
      status: 'False',
      reason: 'BaselineMet',
      message: clip(
        warned.length > 0 ? `baseline met with warnings: ${warned.join(', ')}` : 'all baseline checks pass',
      ),
    };
    taint = 'absent';
  }
  return {
    node: state.node,
    role: state.role,
    labels,
    keepLabels: informative.keep,
    condition,
    taint,
    taintEffect: config.taintEffect,
    failing,
  };
}

/** The Event a change of the condition's status or reason is announced with. */
export function verdictEvent(c: DesiredCondition): { reason: string; message: string; type: EventType } {
  const message =
    c.status === 'True'
      ? `node does not meet the OSMO baseline; ${c.message}`
      : c.status === 'False'
        ? `node meets the OSMO baseline (${c.message})`
        : `node state unknown: ${c.message}`;
  return { reason: c.reason, message, type: c.status === 'True' ? 'Warning' : 'Normal' };
}

/**
 * A transition the mass-change guard holds: the conformant label stays as the node has it (kept, or not
 * written when absent) and the taint as it is; the condition is not written at all (see the reconciler).
 */
export function heldState(
  desired: DesiredNodeState,
  names: Names,
  current: Record<string, string>,
): DesiredNodeState {
  const key = names.labels.conformant;
  const labels = { ...desired.labels };
  const keepLabels = [...desired.keepLabels];
  const value = current[key];
  if (value === undefined) {
    delete labels[key];
    keepLabels.push(key);
  } else labels[key] = value;
  return { ...desired, labels, keepLabels, taint: 'unchanged' };
}
