import { describe, expect, it } from 'vitest';
import { formatBytes, parseByteQuantity } from '../../spec/quantity.js';

describe('parseByteQuantity', () => {
  it('reads decimal and binary units', () => {
    expect(parseByteQuantity('24GB')).toEqual({ bytes: 24e9, text: '24GB', binary: false });
    expect(parseByteQuantity('24GiB')).toEqual({ bytes: 24 * 2 ** 30, text: '24GiB', binary: true });
    expect(parseByteQuantity('200 GB')?.bytes).toBe(200e9);
    expect(parseByteQuantity('1.5TB')?.bytes).toBe(1.5e12);
    expect(parseByteQuantity('512MiB')?.bytes).toBe(512 * 2 ** 20);
    expect(parseByteQuantity('100B')?.bytes).toBe(100);
  });
  it('reads Kubernetes quantities: G is decimal like GB, Gi binary like GiB', () => {
    expect(parseByteQuantity('24G')).toEqual({ bytes: 24e9, text: '24G', binary: false });
    expect(parseByteQuantity('24Gi')).toEqual({ bytes: 24 * 2 ** 30, text: '24Gi', binary: true });
    expect(parseByteQuantity('24G')?.bytes).toBe(parseByteQuantity('24GB')?.bytes);
    expect(parseByteQuantity('24Gi')?.bytes).toBe(parseByteQuantity('24GiB')?.bytes);
    expect(parseByteQuantity('1.5Ti')?.bytes).toBe(1.5 * 2 ** 40);
    expect(parseByteQuantity('500k')?.bytes).toBe(500e3);
    expect(parseByteQuantity('2Mi')?.bytes).toBe(2 * 2 ** 20);
    expect(parseByteQuantity('1E')).toBeNull(); // 10^18 is past Number's safe integers
  });
  it('rejects missing or unknown units and garbage', () => {
    for (const bad of [
      '24',
      '8 GX',
      'GB',
      '24Gb',
      '24gib',
      '-1GB',
      '24 G B',
      '',
      '1e3GB',
      '24gi',
      '500m',
      '24K',
      '9Ei',
    ]) {
      expect(parseByteQuantity(bad), bad).toBeNull();
    }
  });
});

describe('formatBytes', () => {
  it('never rounds up across a threshold', () => {
    expect(formatBytes(23_990_000_000)).toBe('23.9 GB');
    expect(formatBytes(24e9)).toBe('24 GB');
    expect(formatBytes(24 * 2 ** 30, true)).toBe('24 GiB');
    expect(formatBytes(999)).toBe('999 B');
  });
});
