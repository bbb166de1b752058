// core/v1 Event bodies: the one builder for every Event the aggregator writes (verdict transitions and
// circuit-breaker warnings on Nodes, spec reload problems on the aggregator's own Pod).
import { rfc3339 } from './node-view.js';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. `namespace` only for namespaced objects (a Pod), never for a Node. */
export interface InvolvedObject {
  apiVersion: 'v1';
  kind: 'Node' | 'Pod';
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventBody {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { generateName: string; namespace: string };
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
  type: EventType;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

export interface EventInput {
  /** Where the Event is created. */
  namespace: string;
  about: { kind: InvolvedObject['kind']; name: string; namespace?: string; uid?: string | undefined };
  reason: string;
  message: string;
  type: EventType;
  /** Our component name (source and reportingComponent). */
  component: string;
  /** reportingInstance: which instance of the component (default: the component). */
  instance?: string;
  nowMs: number;
}

/** The API server refuses an Event message longer than 1024 characters. */
const MAX_MESSAGE = 1024;

export function eventBody(input: EventInput): EventBody {
  const at = rfc3339(input.nowMs);
  const { about } = input;
  const involvedObject: InvolvedObject = { apiVersion: 'v1', kind: about.kind, name: about.name };
  if (about.namespace) involvedObject.namespace = about.namespace;
  if (about.uid) involvedObject.uid = about.uid;
  const message = input.message;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${about.name}.`, namespace: input.namespace },
    involvedObject,
    reason: input.reason,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
    type: input.type,
    source: { component: input.component },
    reportingComponent: input.component,
    reportingInstance: input.instance ?? input.component,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}
