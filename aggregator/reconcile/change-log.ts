// The recent changes the API serves (newest last, bounded): each write the reconciler makes, or in dry-run
// each plan it would have written. Nothing is written in dry-run, so the same plan recurs on every report:
// a plan is recorded (and logged) once, until the node's plan of that kind changes.
import type { PlannedChange, StructuredLogger } from '../contracts.js';

export type ChangeKind = PlannedChange['kind'];

const KINDS: readonly ChangeKind[] = ['node-patch', 'status-patch', 'event'];
const MAX_CHANGES = 1000;

/**
 * What makes two plans the same, without serialising bodies: a node patch's summary lists every label value,
 * removal and taint (the ownership annotations follow from them); an event's summary carries its type,
 * reason and message; a status patch's summary leaves out the message, so it is added (times are not: a
 * heartbeat differs on every plan).
 */
function planSignature(kind: ChangeKind, summary: string, body: unknown): string {
  if (kind !== 'status-patch') return summary;
  const condition = (body as { status?: { conditions?: Array<Record<string, unknown>> } }).status
    ?.conditions?.[0];
  return `${summary}\0${String(condition?.['status'])}\0${String(condition?.['reason'])}\0${String(condition?.['message'])}`;
}

export interface ChangeLogOptions {
  dryRun: boolean;
  logger: Pick<StructuredLogger, 'info'>;
  now: () => number;
}

export class ChangeLog {
  private readonly o: ChangeLogOptions;
  private readonly log: PlannedChange[] = [];
  /**
   * Dry-run: the last recorded plan's signature per node and kind (`node\0kind`). O(1) per report, and
   * unlike a search of the bounded log it does not forget a plan after 1000 other changes.
   */
  private readonly lastPlanned = new Map<string, string>();

  constructor(options: ChangeLogOptions) {
    this.o = options;
  }

  record(node: string, kind: ChangeKind, summary: string, body: unknown): void {
    if (this.o.dryRun) {
      const key = `${node}\0${kind}`;
      const signature = planSignature(kind, summary, body);
      if (this.lastPlanned.get(key) === signature) return;
      this.lastPlanned.set(key, signature);
      this.o.logger.info({ node, kind, summary, body }, 'dry-run: planned change (not written)');
    }
    const at = new Date(this.o.now()).toISOString();
    this.log.push({ node, kind, summary, body, applied: !this.o.dryRun, at });
    if (this.log.length > MAX_CHANGES) this.log.splice(0, this.log.length - MAX_CHANGES);
  }

  changes(node?: string): PlannedChange[] {
    return node === undefined ? [...this.log] : this.log.filter((c) => c.node === node);
  }

  /** The node left: its next plan is recorded whatever it is. */
  forget(node: string): void {
    for (const kind of KINDS) this.lastPlanned.delete(`${node}\0${kind}`);
  }
}
