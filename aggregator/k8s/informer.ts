// A Node informer: list (in pages, each slimmed before the next is fetched), then watch from the list's
// resourceVersion with bookmarks; relist after a 410 or a real error, with capped exponential backoff while
// watches keep failing; and a watchdog, because the client's watch can stall without closing: when no event
// or bookmark arrives within watchdogMs the watch is aborted and the cache relisted. A quiet watch is normal (bookmarks come about once a minute, quiet
// nodes change every few minutes): the client's own inactivity timeout is raised above the watchdog, and
// if it fires anyway the watch resumes from the last resourceVersion without a LIST.
import { CoreV1Api, type KubeConfig, Watch } from '@kubernetes/client-node';
import { errorMessage } from '../../report/error-message.js';
import type { StructuredLogger } from '../contracts.js';
import { apiStatus } from './api-errors.js';
import { listNodesInPages } from './node-pages.js';
import { type NodeView, type SlimOptions, StringInterner, slimNode } from './node-view.js';
import { backoffMs } from './rate-limit.js';

/** A watch that delivered an event or stayed open this long counts as healthy (resets the backoff). */
export const HEALTHY_WATCH_MS = 30_000;
const MAX_RELIST_BACKOFF_MS = 30_000;
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** client-node's Watch aborts with this DOMException name after its inactivity timeout (requestTimeoutMs). */
function isClientTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';
}

export type InformerLogger = Pick<StructuredLogger, 'info' | 'warn' | 'debug'>;

export interface NodeInformerOptions {
  kubeConfig: KubeConfig;
  watchdogMs: number;
  logger: InformerLogger;
  /** Called when a node disappears from the cluster. */
  onDelete?: (name: string) => void;
  onRestart?: (reason: 'error' | 'closed' | 'watchdog' | 'expired') => void;
  /** Called after a watch event added or changed a node (its new copy is in the cache). */
  onChange?: (name: string) => void;
  /** Before the first list succeeds, and between relists after errors. */
  relistBaseMs?: number;
  /** Cache only this condition of each Node (ours; see slimNode). Default: every condition. */
  conditionType?: string;
}

/** Compare resourceVersions when both are numeric (etcd's are); otherwise trust the newer arrival. */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) >= BigInt(b);
  return true;
}

/** Also the aggregator's ClusterView (labelsOf, runtimeVersionOf, nodeNames, synced). */
export class NodeInformer {
  private readonly cache = new Map<string, NodeView>();
  private readonly core: CoreV1Api;
  private readonly options: NodeInformerOptions;
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private hasSynced = false;
  private stopped = true;
  private failures = 0;
  private generation = 0;
  /** When the current watch started, and whether it delivered anything (decides whether failures reset). */
  private watchStartedAt = 0;
  private watchDelivered = false;
  /**
   * The generation of the watch in progress, open or still connecting: the watchdog covers both (a server
   * that accepts the connection and never answers leaves watch() pending up to the client's timeout).
   */
  private watchGeneration: number | undefined;
  lastError: string | undefined;
  /** How each Node is slimmed: our condition only, repeated strings shared across the cache. */
  private readonly slim: SlimOptions;

  constructor(options: NodeInformerOptions) {
    this.options = options;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.slim = {
      interner: new StringInterner(),
      ...(options.conditionType !== undefined && { conditionType: options.conditionType }),
    };
  }

  /** The cached object itself, no copy: a node's cached view is replaced on every change, never edited. */
  labelsOf(node: string): Readonly<Record<string, string>> | undefined {
    const n = this.cache.get(node);
    return n ? (n.metadata?.labels ?? NO_LABELS) : undefined;
  }

  runtimeVersionOf(node: string): string | undefined {
    return this.cache.get(node)?.status?.nodeInfo?.containerRuntimeVersion;
  }

  nodeNames(): string[] {
    return [...this.cache.keys()].sort();
  }

  synced(): boolean {
    return this.hasSynced;
  }

  get(node: string): NodeView | undefined {
    return this.cache.get(node);
  }

  all(): NodeView[] {
    return [...this.cache.values()];
  }

  /** Record an object the API server returned to us (a patch or GET), if not older than the cache's. */
  observe(node: NodeView): void {
    const name = node.metadata?.name;
    if (!name) return;
    const current = this.cache.get(name);
    if (current && !newer(node.metadata?.resourceVersion, current.metadata?.resourceVersion)) return;
    this.cache.set(name, slimNode(node, this.slim));
  }

  /** The node is gone (404 on a write). */
  evict(name: string): void {
    this.cache.delete(name);
  }

  /** Resolves after the first list attempt; when it failed, relisting continues in the background (ready() says so). */
  async start(): Promise<void> {
    this.stopped = false;
    this.watchdog = setInterval(
      () => this.checkWatchdog(),
      Math.max(50, Math.floor(this.options.watchdogMs / 4)),
    );
    this.watchdog.unref();
    await this.relist();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
  }

  private checkWatchdog(): void {
    if (this.stopped || this.watchGeneration !== this.generation) return;
    if (Date.now() - this.lastActivity < this.options.watchdogMs) return;
    this.options.logger.warn(
      { watchdogMs: this.options.watchdogMs, connecting: this.controller === undefined },
      'node watch silent for longer than the watchdog allows; restarting it',
    );
    this.restart('watchdog');
  }

  private restart(reason: 'error' | 'closed' | 'watchdog' | 'expired'): void {
    this.options.onRestart?.(reason);
    this.generation++;
    this.controller?.abort();
    this.controller = undefined;
    if (reason === 'closed') {
      // A normal close: resume from the last resourceVersion (after a backoff while closes come too fast).
      if (this.failures === 0) void this.watch();
      else this.scheduleRetry(this.failures, () => this.watch());
      return;
    }
    this.scheduleRelist(reason === 'error' ? this.failures : 0);
  }

  private scheduleRelist(failures: number): void {
    this.scheduleRetry(failures, () => this.relist());
  }

  private scheduleRetry(failures: number, action: () => Promise<void>): void {
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const delay =
      failures === 0 ? 0 : backoffMs(failures, this.options.relistBaseMs ?? 500, MAX_RELIST_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void action().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    try {
      // Page by page, each page slimmed before the next is fetched: only slim copies outlive a page.
      const fresh = new Map<string, NodeView>();
      const list = await listNodesInPages(
        this.core,
        (items) => {
          if (generation !== this.generation || this.stopped) return false;
          for (const item of items as NodeView[]) {
            const name = item.metadata?.name;
            if (name) fresh.set(name, slimNode(item, this.slim));
          }
          return true;
        },
        { onRestart: () => fresh.clear() },
      );
      if (!list.complete || generation !== this.generation || this.stopped) return;
      for (const [name, view] of fresh) {
        // A write answered while the list was paging may be newer than its page.
        const current = this.cache.get(name);
        if (!current || newer(view.metadata?.resourceVersion, current.metadata?.resourceVersion))
          this.cache.set(name, view);
      }
      for (const name of [...this.cache.keys()]) {
        if (!fresh.has(name)) {
          this.cache.delete(name);
          this.options.onDelete?.(name);
        }
      }
      this.resourceVersion = list.resourceVersion;
      this.hasSynced = true;
      // failures is NOT reset here: a watch that fails right after a good list (RBAC without `watch`, a
      // proxy cutting streams) must keep backing off. It resets once a watch proves healthy.
      this.lastError = undefined;
      this.options.logger.debug({ nodes: fresh.size, resourceVersion: this.resourceVersion }, 'listed nodes');
      // Not awaited: the watch connects in the background (the watchdog covers one that never answers),
      // so start() and a relist end with the list.
      void this.watch();
    } catch (err) {
      if (generation !== this.generation || this.stopped) return;
      this.failures++;
      this.lastError = errorMessage(err, { firstLine: true });
      this.options.logger.warn(
        { err: this.lastError, failures: this.failures },
        'listing nodes failed; retrying',
      );
      this.scheduleRelist(this.failures);
    }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const generation = this.generation;
    this.watchGeneration = generation;
    this.lastActivity = Date.now();
    this.watchStartedAt = this.lastActivity;
    this.watchDelivered = false;
    const query: Record<string, string | number | boolean | undefined> = {
      allowWatchBookmarks: true,
      resourceVersion: this.resourceVersion,
      // Server-side close well before the watchdog, so a healthy watch never trips it.
      timeoutSeconds: Math.max(1, Math.floor(this.options.watchdogMs / 2000)),
    };
    const watch = new Watch(this.options.kubeConfig);
    // The client aborts a stream silent for requestTimeoutMs (30 s by default), which a quiet cluster
    // easily is; stalls are the watchdog's job, so the client waits longer than the watchdog.
    // (private in the typings, a plain field in the code: see node_modules/@kubernetes/client-node/dist/watch.js)
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.options.watchdogMs * 2;
    let controller: AbortController;
    try {
      controller = await watch.watch(
        '/api/v1/nodes',
        query,
        (phase: string, obj: unknown) => {
          if (generation !== this.generation) return;
          this.lastActivity = Date.now();
          this.watchDelivered = true;
          this.onEvent(phase, obj);
        },
        (err: unknown) => this.watchEnded(generation, err),
      );
    } catch (err) {
      // Before any request (no cluster in the config, a token file unreadable): a failed watch like any.
      this.watchEnded(generation, err ?? new Error('watch could not start'));
      return;
    }
    if (generation === this.generation) this.controller = controller;
    else controller.abort();
  }

  private watchEnded(generation: number, err: unknown): void {
    if (generation !== this.generation || this.stopped) return;
    const healthy = this.watchDelivered || Date.now() - this.watchStartedAt >= HEALTHY_WATCH_MS;
    if (healthy) this.failures = 0;
    if (err && isClientTimeout(err)) {
      // Only silence, not an error: resume from the last resourceVersion, no LIST.
      this.options.logger.debug({}, 'node watch idle past the client timeout; watching again');
      this.restart('closed');
    } else if (!err) {
      // A stream closed at once with nothing in it (a proxy cutting streams) must not loop hot.
      if (!healthy) this.failures++;
      this.restart('closed');
    } else if (apiStatus(err) === 410) {
      this.options.logger.info({ code: 410 }, 'node watch expired; relisting');
      this.restart('expired');
    } else {
      this.failures++;
      this.lastError = errorMessage(err);
      this.options.logger.warn(
        { err: this.lastError, failures: this.failures },
        'node watch failed; relisting after a backoff',
      );
      this.restart('error');
    }
  }

  private onEvent(phase: string, obj: unknown): void {
    if (typeof obj !== 'object' || obj === null) return;
    const node = obj as NodeView & { code?: number; kind?: string };
    if (phase === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; anything else: start over too.
      this.options.logger.info({ code: node.code }, 'node watch returned an error event; relisting');
      this.restart('expired');
      return;
    }
    const rv = node.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (phase === 'BOOKMARK') return;
    const name = node.metadata?.name;
    if (!name) return;
    if (phase === 'DELETED') {
      this.cache.delete(name);
      this.options.onDelete?.(name);
      return;
    }
    if (phase === 'ADDED' || phase === 'MODIFIED') {
      this.observe(node);
      this.options.onChange?.(name);
    }
  }
}
