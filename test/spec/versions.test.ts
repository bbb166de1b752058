import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersion, verrevcmp } from '../../spec/versions.js';

describe('nvidia-driver versions', () => {
  it('compares numerically, part by part', () => {
    expect(compareVersions('535.216.03', '535.54.03', 'nvidia-driver')).toBe(1);
    expect(compareVersions('535.54.03', '535.216.03', 'nvidia-driver')).toBe(-1);
    expect(compareVersions('550.54.14', '535.216.03', 'nvidia-driver')).toBe(1);
  });
  it('treats leading zeros as numbers: 216.03 == 216.3', () => {
    expect(parseVersion('535.216.03', 'nvidia-driver')).toMatchObject({ parts: [535, 216, 3], major: 535 });
    expect(compareVersions('535.216.03', '535.216.3', 'nvidia-driver')).toBe(0);
  });
  it('accepts two parts (a missing third part is 0)', () => {
    expect(compareVersions('560.28', '560.28.00', 'nvidia-driver')).toBe(0);
    expect(compareVersions('535.216', '535.216.03', 'nvidia-driver')).toBe(-1);
  });
  it('returns null on garbage, never a guess', () => {
    for (const bad of ['', 'N/A', '535', '535.216.03.1', 'v535.216.03', '535.216.03-beta', ' . ', '535..3']) {
      expect(parseVersion(bad, 'nvidia-driver'), bad).toBeNull();
    }
    expect(compareVersions('garbage', '535.216.03', 'nvidia-driver')).toBeNull();
  });
});

describe('dotted versions', () => {
  it('compares CUDA and JetPack versions numerically, missing parts are 0', () => {
    expect(compareVersions('12.2', '12.6', 'dotted')).toBe(-1);
    expect(compareVersions('12.10', '12.6', 'dotted')).toBe(1);
    expect(compareVersions('12.6', '12.6.0', 'dotted')).toBe(0);
    expect(compareVersions('6.2.1', '6.2', 'dotted')).toBe(1);
    expect(compareVersions('6.0', '6.2', 'dotted')).toBe(-1);
    expect(compareVersions('1.7.27', '1.7.3', 'dotted')).toBe(1);
  });
  it('rejects non-numeric input', () => {
    for (const bad of ['', '12.x', '1.7.27~ds1', 'v1.7.27', '12.', '.6'])
      expect(parseVersion(bad, 'dotted'), bad).toBeNull();
  });
});

describe('debian versions (dpkg ordering)', () => {
  const cmp = (a: string, b: string) => compareVersions(a, b, 'debian');
  it('sorts ~ before the end: 1.6.20~ds1 < 1.6.20', () => {
    expect(cmp('1.6.20~ds1', '1.6.20')).toBe(-1);
    expect(cmp('1.6.20', '1.6.20~ds1')).toBe(1);
    expect(cmp('1.0~rc1', '1.0~rc2')).toBe(-1);
    expect(cmp('1.0~~', '1.0~')).toBe(-1);
  });
  it('honours the epoch before anything else', () => {
    expect(cmp('1:1.0', '2.0')).toBe(1);
    expect(cmp('0:1.7.27', '1.7.27')).toBe(0);
  });
  it('compares the revision after the upstream version', () => {
    expect(cmp('1.7.27-1', '1.7.27-1+b1')).toBe(-1);
    expect(cmp('1.7.27-0ubuntu1~22.04.1', '1.7.27-0ubuntu1')).toBe(-1);
    expect(cmp('1.7.28', '1.7.27-9')).toBe(1);
  });
  it('compares digit runs numerically and letters before symbols', () => {
    expect(cmp('1.7.27', '1.7.3')).toBe(1);
    expect(cmp('1.0a', '1.0+')).toBe(-1);
    expect(cmp('1.0', '1.0a')).toBe(-1);
    expect(cmp('2.0.0', '1.7.27')).toBe(1);
    expect(parseVersion('2.0.5', 'debian')?.major).toBe(2);
  });
  it('matches dpkg on verrevcmp edge cases', () => {
    expect(verrevcmp('', '')).toBe(0);
    expect(Math.sign(verrevcmp('~', ''))).toBe(-1);
    expect(Math.sign(verrevcmp('a', ''))).toBe(1);
    expect(verrevcmp('001', '1')).toBe(0);
  });
  it('returns null on garbage', () => {
    for (const bad of ['', 'abc', 'v1.7.27', 'x:1.0', '1.0-', '1.0 2', '1.0-a_b']) {
      expect(parseVersion(bad, 'debian'), bad).toBeNull();
    }
  });
});

describe('debian versions against dpkg’s documented ordering', () => {
  // Pairs [lower, higher] from deb-version(7) / Debian Policy §5.6.12 (epoch first; `~` before anything,
  // even the end; letters before other symbols; digit runs numerically; an absent revision is "0").
  const LESS: readonly (readonly [string, string])[] = [
    ['1.0~rc1', '1.0'],
    ['1.0', '1.0-1'],
    ['2.0', '1:0.9'],
    ['1.6.20~ds1', '1.6.20'],
    // Policy's own sequence: ~~ < ~~a < ~ < (nothing) < a
    ['1.0~~', '1.0~~a'],
    ['1.0~~a', '1.0~'],
    ['1.0~', '1.0'],
    ['1.0', '1.0a'],
    ['1.0a', '1.0+'],
    ['1.9', '1.10'],
    ['1.0+dfsg', '1.0.1'],
    ['1.0-1', '1.0-1ubuntu1'],
    ['1.7.27-1', '1.7.27-1+b1'],
    ['1.7.27-0ubuntu1~22.04.1', '1.7.27-0ubuntu1'],
    ['1.7.27', '1.7.28~rc.1'],
    // containerd's upstream pre-release `1.7.27-rc.1` is compared as `1.7.27~rc.1` (spec/compile.ts).
    ['1.7.27~rc.1', '1.7.27'],
    ['9:1.0', '10:0.1'],
  ];
  const EQUAL: readonly (readonly [string, string])[] = [
    ['1.0', '1.0-0'],
    ['0:1.7.27', '1.7.27'],
    ['1.01', '1.1'],
  ];
  const cmp = (a: string, b: string) => compareVersions(a, b, 'debian');

  it.each(LESS)('%s < %s (and the reverse is >)', (lower, higher) => {
    expect(cmp(lower, higher)).toBe(-1);
    expect(cmp(higher, lower)).toBe(1);
  });

  it.each(EQUAL)('%s == %s', (a, b) => {
    expect(cmp(a, b)).toBe(0);
    expect(cmp(b, a)).toBe(0);
  });

  it('an upstream `-rc.1` read as Debian is a revision, so it sorts AFTER the release', () => {
    // This is why spec/compile.ts maps containerd's `-rc.N` to `~rc.N` before comparing.
    expect(cmp('1.7.27-rc.1', '1.7.27')).toBe(1);
  });
});
