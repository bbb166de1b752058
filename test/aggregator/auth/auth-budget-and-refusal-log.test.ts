// The small parts of agent authentication: the per-node API-call budget (aggregator/auth/node-budget.ts)
// and the refusal log's summary at info (aggregator/auth/refusal-log.ts).
import { describe, expect, it } from 'vitest';
import { NodeBudget } from '../../../aggregator/auth/node-budget.js';
import { RefusalLog } from '../../../aggregator/auth/refusal-log.js';
import type { StructuredLogger } from '../../../aggregator/contracts.js';

describe('NodeBudget', () => {
  it('gives each key its own bucket, refilled over time, and bounds the number of keys', () => {
    let t = 0;
    const budget = new NodeBudget({
      qps: 0.5,
      burst: 2,
      clock: { now: () => t, sleep: async () => {} },
      maxKeys: 3,
    });
    expect([budget.take('a'), budget.take('a'), budget.take('a')].map((r) => r.ok)).toEqual([
      true,
      true,
      false,
    ]);
    expect(budget.take('a')).toEqual({ ok: false, retryAfterMs: 2000 });
    expect(budget.take('b').ok).toBe(true);
    t += 2000;
    expect(budget.take('a').ok).toBe(true);
    expect(budget.take('a').ok).toBe(false);
    budget.take('c');
    budget.take('d'); // the least recently used key (b) is dropped
    expect(budget.size).toBe(3);
    expect([budget.take('b'), budget.take('b'), budget.take('b')].map((r) => r.ok)).toEqual([
      true,
      true,
      false,
    ]);
    expect(() => new NodeBudget({ qps: 0, burst: 1 })).toThrow(/invalid rate limit/);
  });
});

describe('RefusalLog', () => {
  function logger() {
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string | undefined }> = [];
    const at = (level: string) => (obj: object, msg?: string) => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
    const log: StructuredLogger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    };
    return { log, lines };
  }

  it('logs each refusal at debug and one summary per window at info', async () => {
    const { log, lines } = logger();
    const refusals = new RefusalLog({ logger: log, windowMs: 30 });
    for (let i = 0; i < 1000; i++) refusals.refused(i % 4 === 0 ? 'expired' : 'signature', 401, 'no');
    refusals.refused('wrong-node', 403, 'token of node a may not report for b');
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(0);
    for (let i = 0; i < 50 && !lines.some((l) => l.level === 'info'); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const info = lines.filter((l) => l.level === 'info');
    expect(info).toEqual([
      {
        level: 'info',
        obj: { refused: { signature: 750, expired: 250, 'wrong-node': 1 }, total: 1001, windowSeconds: 0 },
        msg: 'agent tokens refused (summary)',
      },
    ]);
    expect(lines.filter((l) => l.level === 'debug')).toHaveLength(1001);
    expect(lines.at(-2)).toMatchObject({ level: 'debug', obj: { reason: 'wrong-node', status: 403 } });
    // Nothing refused since: no further summary.
    await new Promise((r) => setTimeout(r, 60));
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(1);
    refusals.refused('expired', 401, 'token expired');
    refusals.flush();
    expect(lines.at(-1)).toMatchObject({ level: 'info', obj: { refused: { expired: 1 }, total: 1 } });
  });
});
