// core/v1 Events on the Node: verdict transitions and circuit-breaker warnings.
import type { Names } from '../k8s/names.js';
import { rfc3339 } from './node-view.js';

export interface EventBody {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { generateName: string; namespace: string };
  involvedObject: { apiVersion: 'v1'; kind: 'Node'; name: string; uid?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

export function nodeEvent(
  names: Names,
  namespace: string,
  node: { name: string; uid?: string | undefined },
  reason: string,
  message: string,
  type: 'Normal' | 'Warning',
  nowMs: number,
): EventBody {
  const at = rfc3339(nowMs);
  const involvedObject: EventBody['involvedObject'] = { apiVersion: 'v1', kind: 'Node', name: node.name };
  if (node.uid) involvedObject.uid = node.uid;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${node.name}.`, namespace },
    involvedObject,
    reason,
    message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
    type,
    source: { component: names.component },
    reportingComponent: names.component,
    reportingInstance: names.component,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}
