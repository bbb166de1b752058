// The desired Kubernetes state of one node: a pure function of its NodeState, the names and the config.

import type { Role } from '../../report/schema.js';
import type { NodeState } from '../contracts.js';
import { sanitizeLabelValue } from '../k8s/label-values.js';
import type { Names } from '../k8s/names.js';

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
  reason: 'BaselineNotMet' | 'BaselineMet' | 'NoRecentReport';
  message: string;
}

export interface DesiredNodeState {
  node: string;
  role: Role;
  /** Every label we want on the node; owned labels not listed here are to be removed (when allowed). */
  labels: Record<string, string>;
  condition: DesiredCondition;
  /** `unchanged`: leave our taint as it is (stale nodes). */
  taint: 'present' | 'absent' | 'unchanged';
  taintEffect: TaintEffect;
  /** Failing (fail or error) check ids, for messages and events. */
  failing: string[];
}

const MAX_MESSAGE = 1024;

function clip(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 3)}...`;
}

export function failingChecks(state: NodeState): string[] {
  return (state.result?.checks ?? [])
    .filter((c) => c.status === 'fail' || c.status === 'error')
    .map((c) => c.id);
}

function informativeLabels(state: NodeState, names: Names): Record<string, string> {
  const facts = state.result?.facts;
  const out: Record<string, string> = {};
  if (!facts) return out;
  const put = (key: string, raw: string | null | undefined) => {
    const value = sanitizeLabelValue(raw);
    if (value !== undefined) out[key] = value;
  };
  put(names.labels.driverVersion, facts.gpu?.driverVersion);
  put(names.labels.cudaVersion, facts.gpu?.cudaVersion ?? facts.jetson?.cudaVersion);
  put(names.labels.jetpackVersion, facts.jetson?.jetpackVersion);
  put(names.labels.containerdVersion, facts.containerd?.version);
  return out;
}

export function desiredState(state: NodeState, names: Names, config: DesiredConfig): DesiredNodeState {
  const failing = failingChecks(state);
  const stale = state.stale || state.verdict === 'unknown';
  const conformant = stale ? 'unknown' : state.verdict === 'fail' ? 'false' : 'true';
  const labels: Record<string, string> = {
    ...informativeLabels(state, names),
    [names.labels.conformant]: conformant,
    [names.labels.role]: state.role,
  };
  let condition: DesiredCondition;
  let taint: DesiredNodeState['taint'];
  if (stale) {
    const since = state.result?.collectedAt ? ` since ${state.result.collectedAt}` : '';
    condition = {
      type: names.conditionType,
      status: 'Unknown',
      reason: 'NoRecentReport',
      message: clip(`no recent report from the node's validator agent${since}`),
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
    condition,
    taint,
    taintEffect: config.taintEffect,
    failing,
  };
}
