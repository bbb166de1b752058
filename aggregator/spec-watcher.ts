// Live reload of the aggregator's spec file. In a cluster the spec is a ConfigMap volume, which the kubelet
// updates by swapping a `..data` symlink: fs.watch on the file misses that, so the file's CONTENT is hashed
// on a timer (and on SIGHUP, wired by the command). A changed, valid spec is put in force and every stored
// report is evaluated again (the store tells the reconciler what changed); a changed, invalid or unreadable
// file leaves the last good spec in force and is reported (readiness body, metrics, log, Warning Event).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../report/error-message.js';
import type { Report } from '../report/schema.js';
import { parseSpec, type Spec, SpecError } from '../spec/load.js';
import type { StructuredLogger } from './contracts.js';
import { eventBody } from './k8s/events.js';
import type { AggregatorMetrics } from './server/metrics.js';
import type { SpecEvaluator } from './server/spec-evaluator.js';
import type { NodeStore } from './store.js';

export const DEFAULT_SPEC_POLL = '30s';

export type SpecLogger = StructuredLogger;

export interface SpecFile {
  spec: Spec;
  /** sha256 of the file's bytes. */
  hash: string;
}

/** Reads and validates a spec file once; throws SpecError (file: field: problem), also when unreadable. */
export async function readSpecFile(file: string): Promise<SpecFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  return { spec: parseSpec(text, file), hash: sha256(text) };
}

/** Where the spec's Kubernetes Events go (the aggregator's own Pod). Never throws. */
export interface SpecEventRecorder {
  record(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface PodEventRecorderOptions {
  kubeConfig: KubeConfig;
  /** POD_NAME / POD_NAMESPACE (and optionally POD_UID) from the downward API. */
  env: NodeJS.ProcessEnv;
  component: string;
  logger: SpecLogger;
  now?: () => number;
}

/**
 * Events about the spec are about the aggregator, so they name its Pod (the downward API's POD_NAME and
 * POD_NAMESPACE). Without both there is no object to attach them to: null, and the caller skips events.
 */
export function podEventRecorder(options: PodEventRecorderOptions): SpecEventRecorder | null {
  const podName = options.env['POD_NAME'];
  const namespace = options.env['POD_NAMESPACE'];
  if (!podName || !namespace) {
    options.logger.debug(
      {},
      'POD_NAME/POD_NAMESPACE not set: spec reload problems are not recorded as Kubernetes Events',
    );
    return null;
  }
  const podUid = options.env['POD_UID'];
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const now = options.now ?? Date.now;
  return {
    async record(type, reason, message) {
      const body = eventBody({
        namespace,
        about: { kind: 'Pod', name: podName, namespace, uid: podUid },
        reason,
        message,
        type,
        component: options.component,
        instance: podName,
        nowMs: now(),
      });
      try {
        await core.createNamespacedEvent({ namespace, body: body as never });
      } catch (err) {
        options.logger.warn({ err: errorMessage(err), reason }, 'could not record the spec Event');
      }
    },
  };
}

export type ReloadOutcome =
  /** The file's content is what was examined last: nothing to do. */
  | { status: 'unchanged' }
  /** A changed, valid spec is in force; `evaluated` stored reports were evaluated again. */
  | { status: 'applied'; revision: string; evaluated: number; notified: number }
  /** The file is back to the spec already in force after an error (or only its formatting changed). */
  | { status: 'recovered' | 'same-spec'; revision: string }
  /** Invalid or unreadable: the last good spec stays in force. */
  | { status: 'invalid'; error: string };

export interface SpecWatcherOptions {
  file: string;
  /** Hash of the content the spec in force was read from (readSpecFile). */
  initialHash: string;
  evaluator: SpecEvaluator;
  store: NodeStore;
  /** The node's cluster labels for re-evaluation (role and node.label), as for a new report. */
  labelsOf?: ((node: string) => Record<string, string> | undefined) | undefined;
  /** Poll period for start(). */
  intervalMs: number;
  metrics?: Pick<AggregatorMetrics, 'specReloads' | 'specReloadErrors' | 'specValid'> | undefined;
  logger: SpecLogger;
  /** Kubernetes Events on the aggregator's Pod; null/undefined = none (standalone, dry-run, no POD_NAME). */
  events?: SpecEventRecorder | null | undefined;
  /** Reports re-evaluated between yields to the event loop. */
  batchSize?: number | undefined;
}

export class SpecWatcher {
  private readonly opts: SpecWatcherOptions;
  /** Hash of the content last examined (valid or not), or `unreadable:CODE`. */
  private seenHash: string;
  /** Hash of the content the spec in force came from. */
  private goodHash: string;
  private currentError: string | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly pendingEvents = new Set<Promise<void>>();

  constructor(options: SpecWatcherOptions) {
    this.opts = options;
    this.seenHash = options.initialHash;
    this.goodHash = options.initialHash;
  }

  /** Why the file on disk is not in force (`file: field: problem`), or null when it is. */
  error(): string | null {
    return this.currentError;
  }

  /** Poll the file every intervalMs; the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow pass (large fleet) is not stacked up behind itself; the next tick looks again.
      if (!this.busy) this.reloadInBackground('poll');
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Read the file now (poll tick, SIGHUP, tests). Reloads run one at a time, in call order. */
  reload(trigger: 'poll' | 'signal' | 'manual' = 'manual'): Promise<ReloadOutcome> {
    const next = this.chain.then(() => this.check(trigger));
    this.chain = next.catch(() => {});
    return next;
  }

  /** reload() for a timer or a signal handler: an unexpected failure is logged, never an unhandled rejection. */
  reloadInBackground(trigger: 'poll' | 'signal'): void {
    this.reload(trigger).catch((err: unknown) =>
      this.opts.logger.error({ err: errorMessage(err), trigger }, 'spec reload failed unexpectedly'),
    );
  }

  /** Resolves when the Kubernetes Events recorded so far have been written (or failed). */
  async eventsSettled(): Promise<void> {
    await Promise.all([...this.pendingEvents]);
  }

  private async check(trigger: string): Promise<ReloadOutcome> {
    this.busy = true;
    try {
      return await this.examine(trigger);
    } finally {
      this.busy = false;
    }
  }

  private async examine(trigger: string): Promise<ReloadOutcome> {
    const { file, logger } = this.opts;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return this.rejectContent(`unreadable:${code}`, unreadable(file, err), trigger);
    }
    const hash = sha256(text);
    if (hash === this.seenHash) return { status: 'unchanged' };

    let spec: Spec;
    try {
      spec = parseSpec(text, file);
    } catch (err) {
      return this.rejectContent(hash, err, trigger);
    }
    this.seenHash = hash;
    const wasInvalid = this.currentError !== null;
    this.markValid();
    const revision = spec.metadata.revision;

    if (hash === this.goodHash || sameSpec(spec, this.opts.evaluator.spec)) {
      // Back to (or a reformatting of) the spec in force: nothing to evaluate again.
      this.goodHash = hash;
      const status = wasInvalid ? 'recovered' : 'same-spec';
      logger.info({ file, revision, trigger }, `spec file ${status}: the spec in force is unchanged`);
      if (wasInvalid) {
        this.emit('Normal', 'SpecValid', `spec ${file} is valid again; revision ${revision} stays in force`);
      }
      return { status, revision };
    }

    const previous = this.opts.evaluator.spec.metadata.revision;
    this.opts.evaluator.setSpec(spec);
    this.goodHash = hash;
    this.opts.metrics?.specReloads.inc();
    const started = Date.now();
    const labelsOf = this.opts.labelsOf;
    const evaluator = this.opts.evaluator;
    const outcome = await this.opts.store.reevaluate(
      (report: Report) => evaluator.evaluate(report, labelsOf?.(report.node)),
      {
        ...(this.opts.batchSize ? { batchSize: this.opts.batchSize } : {}),
        onEvaluateError: (node, err) =>
          logger.error({ node, err: errorMessage(err) }, 're-evaluation against the new spec failed'),
      },
    );
    logger.info(
      { file, trigger, previousRevision: previous, revision, ...outcome, ms: Date.now() - started },
      'spec reloaded: stored reports evaluated against it',
    );
    this.emit(
      'Normal',
      wasInvalid ? 'SpecValid' : 'SpecReloaded',
      `spec ${file} revision ${revision} is in force (was ${previous}); ${outcome.evaluated} nodes re-evaluated, ${outcome.notified} changed`,
    );
    return { status: 'applied', revision, ...outcome };
  }

  /** Invalid or unreadable content: counted, logged and recorded once per distinct content. */
  private rejectContent(hash: string, err: unknown, trigger: string): ReloadOutcome {
    const message = errorMessage(err);
    if (hash === this.seenHash && this.currentError !== null) return { status: 'unchanged' };
    this.seenHash = hash;
    this.currentError = message;
    this.opts.metrics?.specReloadErrors.inc();
    this.opts.metrics?.specValid.set(0);
    const revision = this.opts.evaluator.spec.metadata.revision;
    this.opts.logger.error(
      { file: this.opts.file, trigger, specError: message, revisionInForce: revision },
      'spec reload failed: the last good spec stays in force',
    );
    this.emit('Warning', 'SpecInvalid', `${message} (revision ${revision} stays in force)`);
    return { status: 'invalid', error: message };
  }

  private markValid(): void {
    this.currentError = null;
    this.opts.metrics?.specValid.set(1);
  }

  private emit(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const events = this.opts.events;
    if (!events) return;
    const p = events.record(type, reason, message).catch(() => {});
    this.pendingEvents.add(p);
    void p.finally(() => this.pendingEvents.delete(p));
  }
}

function unreadable(file: string, err: unknown): SpecError {
  const code = (err as NodeJS.ErrnoException).code;
  return new SpecError(file, '', `cannot read the spec (${code ?? errorMessage(err)})`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Same parsed content (e.g. only comments or formatting changed). */
function sameSpec(a: Spec, b: Spec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
