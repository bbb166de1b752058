// The text form of a log record, and the writer that turns pino's JSON lines into it.
import { describe, expect, it } from 'vitest';
import { formatTextLine, textLogWriter } from '../../report/log-line.js';

describe('formatTextLine', () => {
  it('puts time, level and message first, then the fields as key=value', () => {
    expect(
      formatTextLine({
        level: 'warn',
        time: '2026-01-01T00:00:00.000Z',
        msg: 'report rejected',
        node: 'n1',
        status: 503,
        reason: 'two words',
        err: { message: 'boom' },
      }),
    ).toBe(
      '2026-01-01T00:00:00.000Z WARN  report rejected node=n1 status=503 reason="two words" err={"message":"boom"}\n',
    );
  });

  it('keeps one record on one line', () => {
    expect(formatTextLine({ level: 'info', time: 't', msg: 'a\nb', x: 'c\nd' })).toBe(
      't INFO  a\\nb x="c\\nd"\n',
    );
  });
});

describe('textLogWriter', () => {
  it('writes each JSON line as text, also when a line comes in pieces; other lines pass unchanged', () => {
    const out: string[] = [];
    const w = textLogWriter({ write: (s) => out.push(s) });
    w.write('{"level":"info","time":"t","msg":"one"}\n{"level":"error",');
    w.write('"time":"t","msg":"two","n":1}\nnot json\n');
    expect(out).toEqual(['t INFO  one\n', 't ERROR two n=1\n', 'not json\n']);
  });
});
