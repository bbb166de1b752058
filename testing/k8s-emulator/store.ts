// Objects of one resource type, with a bounded watch history. Stored objects are never mutated after a
// write (every write stores a fresh copy), so history entries and serialized JSON can be shared; each
// object is serialized once per write and LIST concatenates the cached strings (5,000 nodes stay cheap).
import { clone, isObject, type JsonObject, metaOf, str } from './json.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import type { Matcher } from './selectors.js';
import { expired, type StatusBody } from './status.js';

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Stored {
  obj: JsonObject;
  json: string;
}

interface HistoryEvent {
  type: WatchType;
  rv: number;
  obj: JsonObject;
  prev: JsonObject | undefined;
  line: string;
}

/** Where a watch stream writes (the HTTP response); `stalled` sinks silently receive nothing. */
export interface WatchSink {
  write(line: string): void;
  end(): void;
}

export interface Watcher {
  namespace: string | undefined;
  labels: Matcher | null;
  fields: Matcher | null;
  sink: WatchSink;
  stalled: boolean;
  bookmarks: boolean;
}

/** The cluster-wide resourceVersion counter (etcd's revision). */
export class Clock {
  rv = 0;
  next(): number {
    this.rv += 1;
    return this.rv;
  }
}

export class Store {
  readonly def: ResourceDef;
  private readonly clock: Clock;
  private readonly items = new Map<string, Stored>();
  private sorted: string[] | null = null;
  private history: HistoryEvent[] = [];
  private head = 0;
  /** resourceVersion of the newest event dropped from history; watches from before it get 410. */
  private compactedThrough = 0;
  private readonly historyLimit: number;
  readonly watchers = new Set<Watcher>();

  constructor(def: ResourceDef, clock: Clock, historyLimit: number) {
    this.def = def;
    this.clock = clock;
    this.historyLimit = historyLimit;
  }

  static key(namespace: string | undefined, name: string): string {
    return namespace ? `${namespace}/${name}` : name;
  }

  get size(): number {
    return this.items.size;
  }

  get(namespace: string | undefined, name: string): JsonObject | undefined {
    return this.items.get(Store.key(namespace, name))?.obj;
  }

  getJson(namespace: string | undefined, name: string): string | undefined {
    return this.items.get(Store.key(namespace, name))?.json;
  }

  /** Objects in key order (as etcd lists them), optionally only one namespace. */
  list(namespace?: string): JsonObject[] {
    return this.entries(namespace).map((e) => e.obj);
  }

  entries(namespace?: string): Stored[] {
    if (!this.sorted) this.sorted = [...this.items.keys()].sort();
    const keys = namespace ? this.sorted.filter((k) => k.startsWith(`${namespace}/`)) : this.sorted;
    return keys.map((k) => this.items.get(k)!);
  }

  /**
   * Stores `obj` (a fresh object the caller no longer touches) as created or modified: sets the
   * resourceVersion (and uid/creationTimestamp when absent) and emits a watch event.
   */
  write(obj: JsonObject): JsonObject {
    const meta = metaOf(obj);
    const name = str(meta['name']) ?? '';
    const namespace = this.def.namespaced ? str(meta['namespace']) : undefined;
    const key = Store.key(namespace, name);
    const prev = this.items.get(key)?.obj;
    const rv = this.clock.next();
    obj['apiVersion'] = apiVersionOf(this.def);
    obj['kind'] = this.def.kind;
    meta['resourceVersion'] = String(rv);
    if (!meta['uid']) meta['uid'] = crypto.randomUUID();
    if (!meta['creationTimestamp'])
      meta['creationTimestamp'] = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const json = JSON.stringify(obj);
    if (!prev) this.sorted = null;
    this.items.set(key, { obj, json });
    this.emit(prev ? 'MODIFIED' : 'ADDED', rv, obj, prev, json);
    return obj;
  }

  delete(namespace: string | undefined, name: string): JsonObject | undefined {
    const key = Store.key(namespace, name);
    const prev = this.items.get(key)?.obj;
    if (!prev) return undefined;
    this.items.delete(key);
    this.sorted = null;
    const rv = this.clock.next();
    const obj = clone(prev);
    metaOf(obj)['resourceVersion'] = String(rv);
    this.emit('DELETED', rv, obj, prev, JSON.stringify(obj));
    return obj;
  }

  private emit(
    type: WatchType,
    rv: number,
    obj: JsonObject,
    prev: JsonObject | undefined,
    json: string,
  ): void {
    const event: HistoryEvent = { type, rv, obj, prev, line: `{"type":"${type}","object":${json}}\n` };
    this.history.push(event);
    if (this.history.length - this.head > this.historyLimit) {
      this.compactedThrough = this.history[this.head]!.rv;
      this.head += 1;
      // Amortised O(1): drop the consumed prefix once it is as large as the window.
      if (this.head >= this.historyLimit) {
        this.history = this.history.slice(this.head);
        this.head = 0;
      }
    }
    for (const w of this.watchers) this.deliver(w, event);
  }

  private deliver(w: Watcher, e: HistoryEvent): void {
    if (w.stalled) return;
    const line = this.lineFor(w, e);
    if (line) w.sink.write(line);
  }

  /** The event as this watcher sees it: selectors turn a MODIFIED into ADDED/DELETED at the boundary. */
  private lineFor(w: Watcher, e: HistoryEvent): string | null {
    const now = this.matches(w, e.obj);
    if (e.type !== 'MODIFIED') return now ? e.line : null;
    const before = e.prev ? this.matches(w, e.prev) : false;
    if (now && before) return e.line;
    if (now) return `{"type":"ADDED","object":${JSON.stringify(e.obj)}}\n`;
    if (before) return `{"type":"DELETED","object":${JSON.stringify(e.obj)}}\n`;
    return null;
  }

  private matches(w: Watcher, obj: JsonObject): boolean {
    if (w.namespace !== undefined) {
      const meta = obj['metadata'];
      if (!isObject(meta) || meta['namespace'] !== w.namespace) return false;
    }
    if (w.labels && !w.labels(obj)) return false;
    if (w.fields && !w.fields(obj)) return false;
    return true;
  }

  /**
   * Starts a watch from `resourceVersion` ('' or '0': synthetic ADDED for every current object first).
   * Returns an error line (a 410 Expired Status event) when the version is older than the history window.
   */
  startWatch(w: Watcher, resourceVersion: string | undefined): { ok: true } | { ok: false; line: string } {
    if (!resourceVersion || resourceVersion === '0') {
      for (const s of this.entries(w.namespace)) {
        if (this.matches(w, s.obj)) w.sink.write(`{"type":"ADDED","object":${s.json}}\n`);
      }
      this.watchers.add(w);
      return { ok: true };
    }
    const from = Number(resourceVersion);
    if (!Number.isInteger(from) || from < 0) {
      return {
        ok: false,
        line: errorLine(400, `invalid resource version "${resourceVersion}"`, 'BadRequest'),
      };
    }
    const st = this.expiredStatus(resourceVersion);
    if (st) return { ok: false, line: `${JSON.stringify({ type: 'ERROR', object: st })}\n` };
    for (let i = this.firstAfter(from); i < this.history.length; i++) {
      const line = this.lineFor(w, this.history[i]!);
      if (line) w.sink.write(line);
    }
    this.watchers.add(w);
    return { ok: true };
  }

  /** The 410 Expired Status for a resourceVersion older than the history window, else undefined. */
  expiredStatus(resourceVersion: string | undefined): StatusBody | undefined {
    if (!resourceVersion || resourceVersion === '0') return undefined;
    const from = Number(resourceVersion);
    if (!Number.isInteger(from) || from >= this.compactedThrough) return undefined;
    return expired(`too old resource version: ${from} (${this.compactedThrough + 1})`);
  }

  private firstAfter(rv: number): number {
    let lo = this.head;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  bookmarkLine(): string {
    return `${JSON.stringify({
      type: 'BOOKMARK',
      object: {
        kind: this.def.kind,
        apiVersion: apiVersionOf(this.def),
        metadata: { resourceVersion: String(this.clock.rv) },
      },
    })}\n`;
  }

  /** The resourceVersion a watch must be newer than, or it gets 410 (for tests of relisting). */
  oldestWatchable(): number {
    return this.compactedThrough;
  }

  /** Forgets all history (every existing resourceVersion becomes too old), as after an etcd compaction. */
  compact(): void {
    this.compactedThrough = this.clock.rv;
    this.history = [];
    this.head = 0;
  }
}

function errorLine(code: number, message: string, reason: string): string {
  return `${JSON.stringify({
    type: 'ERROR',
    object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  })}\n`;
}
