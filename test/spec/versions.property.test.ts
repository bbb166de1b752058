import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersion, VERSION_SCHEMES } from '../../spec/versions.js';

const debianish = fc.stringMatching(/^[0-9][0-9a-z.+~]{0,8}(-[0-9a-z.+~]{1,4})?$/);

describe('version comparison properties', () => {
  it('never throws on arbitrary input; garbage is null', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const scheme of VERSION_SCHEMES) parseVersion(s, scheme);
      }),
      { numRuns: 300 },
    );
  });

  it('debian ordering is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(debianish, debianish, (a, b) => {
        const ab = compareVersions(a, b, 'debian');
        const ba = compareVersions(b, a, 'debian');
        expect(ab).not.toBeNull();
        expect(ab).toBe(-(ba as number) || 0);
        expect(compareVersions(a, a, 'debian')).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('dotted versions order like their numeric tuples', () => {
    const tuple = fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(tuple, tuple, (a, b) => {
        const n = Math.max(a.length, b.length);
        let want = 0;
        for (let i = 0; i < n && want === 0; i++) want = Math.sign((a[i] ?? 0) - (b[i] ?? 0));
        expect(compareVersions(a.join('.'), b.join('.'), 'dotted')).toBe(want);
        // Plain dotted versions order the same under dpkg's rules.
        expect(compareVersions(a.join('.'), b.join('.'), 'debian')).toBe(
          a.length === b.length || want !== 0 ? want : Math.sign(a.length - b.length),
        );
      }),
      { numRuns: 300 },
    );
  });
});
