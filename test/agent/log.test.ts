import { describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.js';

describe('JSON-lines logger', () => {
  it('writes one JSON object per line with level, time and msg first, filtered by level', () => {
    const out: string[] = [];
    const log = createLogger({
      level: 'info',
      write: (l) => out.push(l),
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    log.debug('hidden');
    log.info('hello', { node: 'n1', level: 'spoofed', err: new Error('boom') });
    log.error('bad');
    expect(out).toHaveLength(2);
    expect(out.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(out[0]).toBe(
      '{"level":"info","time":"2026-01-01T00:00:00.000Z","msg":"hello","node":"n1","err":{"name":"Error","message":"boom"}}\n',
    );
    expect(JSON.parse(out[1]!)).toMatchObject({ level: 'error', msg: 'bad' });
  });

  it('survives unserialisable fields and can be silenced', () => {
    const out: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    createLogger({ write: (l) => out.push(l) }).warn('cyclic', { cyclic });
    expect(JSON.parse(out[0]!)).toMatchObject({ level: 'warn', msg: 'cyclic', fields: '[unserialisable]' });
    createLogger({ level: 'silent', write: (l) => out.push(l) }).error('nothing');
    expect(out).toHaveLength(1);
  });

  it('--log-format text: the same record for people', () => {
    const out: string[] = [];
    const log = createLogger({
      format: 'text',
      write: (l) => out.push(l),
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    log.warn('report failed', { status: 503, err: new Error('boom') });
    expect(out).toEqual([
      '2026-01-01T00:00:00.000Z WARN  report failed status=503 err={"name":"Error","message":"boom"}\n',
    ]);
  });
});
