// One shared, frozen copy of each distinct check outcome, and of each distinct list of them. The evaluation
// is the largest thing the aggregator keeps per node (BENCHMARKS.md), and most nodes of a fleet share their
// outcomes: the same OS release, driver, runtime and thresholds give the same id, status, message, observed
// and expected. Sharing them keeps one object where 5,000 nodes kept 5,000 equal ones. Bounded: when a table
// is full it starts over (objects already shared stay shared; nothing is ever wrong, only less shared).
import type { CheckResult, NodeResult } from '../../report/schema.js';
import { failingCheckIds } from '../../spec/failing-checks.js';

const MAX_OUTCOMES = 4096;
const MAX_LISTS = 1024;

/** The fields of a CheckResult, in a fixed order, as one key (NUL cannot occur in them unescaped). */
function outcomeKey(c: CheckResult): string {
  return `${c.id}\0${c.status}\0${c.observed ?? '\u0001'}\0${c.expected ?? '\u0001'}\0${c.message}\0${c.remediation ?? '\u0001'}\0${c.source ?? '\u0001'}`;
}

export class OutcomeInterner {
  private readonly outcomes = new Map<string, { check: CheckResult; id: number }>();
  private readonly ids = new WeakMap<CheckResult, number>();
  private readonly lists = new Map<string, readonly CheckResult[]>();
  private nextId = 0;

  /** Distinct outcomes and lists held now (for tests and metrics). */
  get size(): { outcomes: number; lists: number } {
    return { outcomes: this.outcomes.size, lists: this.lists.size };
  }

  outcome(check: CheckResult): CheckResult {
    const key = outcomeKey(check);
    const known = this.outcomes.get(key);
    if (known) return known.check;
    if (this.outcomes.size >= MAX_OUTCOMES) this.outcomes.clear();
    const shared = Object.freeze({ ...check });
    const id = this.nextId++;
    this.outcomes.set(key, { check: shared, id });
    this.ids.set(shared, id);
    return shared;
  }

  /** The same outcomes, each the shared copy, in a shared frozen list when another node has the same. */
  checks(checks: readonly CheckResult[]): CheckResult[] {
    const shared = checks.map((c) => this.outcome(c));
    const key = shared.map((c) => this.ids.get(c)).join(',');
    const known = this.lists.get(key);
    if (known) return known as CheckResult[];
    if (this.lists.size >= MAX_LISTS) this.lists.clear();
    failingCheckIds(shared); // listed before the freeze, so the shared list carries its failing ids
    const list = Object.freeze(shared);
    this.lists.set(key, list);
    return list as CheckResult[];
  }

  /** The result with its checks shared (a new object; the result itself stays the caller's). */
  result(result: NodeResult): NodeResult {
    return { ...result, checks: this.checks(result.checks) };
  }
}
