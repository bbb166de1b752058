// Which bodies skip secure-json-parse's scan (aggregator/server/json-body.ts): only those that cannot
// spell a `__proto__` or `constructor` key.
import { describe, expect, it } from 'vitest';
import { mayPoison } from '../../../aggregator/server/json-body.js';

describe('mayPoison', () => {
  it('is false for an ordinary report body', () => {
    expect(mayPoison(JSON.stringify({ node: 'n1', facts: { os: { id: 'ubuntu' } }, probeErrors: [] }))).toBe(
      false,
    );
  });
  it('is true for either word anywhere, any \\u escape, a byte-order mark, an empty body', () => {
    expect(mayPoison('{"__proto__":{}}')).toBe(true);
    expect(mayPoison('{"a":"the constructor"}')).toBe(true);
    expect(mayPoison('{"\\u005f_proto__":{}}')).toBe(true);
    expect(mayPoison('{"a":"\\u00e9"}')).toBe(true);
    expect(mayPoison('\uFEFF{}')).toBe(true);
    expect(mayPoison('')).toBe(true);
  });
});
