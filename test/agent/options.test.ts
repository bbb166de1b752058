import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  parseDuration,
  parseDurationInRange,
  parseExecMode,
  parseFlags,
  parseLogLevel,
  parsePort,
  parseRegistries,
  parseRegistryTimeout,
  UsageError,
} from '../../agent/options.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1h30m', 5_400_000],
    [' 2m ', 120_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '5x', 'm', '-1s', '1s 2s', '1d', 's30', '1.s', 'abc'])(
    'refuses %j and names the flag',
    (text) => {
      expect(() => parseDuration(text, '--interval')).toThrow(UsageError);
      expect(() => parseDuration(text, '--interval')).toThrow(/--interval: invalid duration/);
    },
  );

  it('enforces bounds with a readable message', () => {
    expect(parseDurationInRange('2s', '--interval', 1000, 60_000)).toBe(2000);
    expect(() => parseDurationInRange('500ms', '--interval', 1000, 60_000)).toThrow(
      '--interval: 500ms is out of range (1s to 1m)',
    );
    expect(() => parseDurationInRange('2h', '--interval', 1000, 60_000)).toThrow(/out of range/);
  });

  it('formats durations back', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(61_000)).toBe('1m1s');
  });
});

describe('parseRegistries', () => {
  it('splits, trims and de-duplicates host[:port] entries', () => {
    expect(parseRegistries('nvcr.io, mirror.local:5000,nvcr.io')).toEqual(['nvcr.io', 'mirror.local:5000']);
    expect(parseRegistries('[::1]:5000')).toEqual(['[::1]:5000']);
  });
  it('treats none as skipping the probe', () => {
    expect(parseRegistries('none')).toBeNull();
    expect(parseRegistries('NONE')).toBeNull();
  });
  it.each(['', ',', 'https://nvcr.io', 'host:99999', 'host:0', 'bad host', 'nvcr.io/path'])(
    'refuses %j',
    (text) => {
      expect(() => parseRegistries(text)).toThrow(UsageError);
    },
  );
});

describe('other option parsers', () => {
  it('parses exec modes, log levels and ports', () => {
    expect(parseExecMode('chroot')).toBe('chroot');
    expect(() => parseExecMode('docker')).toThrow('--exec-mode: expected local or chroot, got "docker"');
    expect(parseLogLevel('warn')).toBe('warn');
    expect(() => parseLogLevel('verbose')).toThrow(UsageError);
    expect(parsePort('8081', '--health-port')).toBe(8081);
    expect(parsePort('0', '--health-port', true)).toBe(0);
    expect(() => parsePort('0', '--health-port')).toThrow(UsageError);
    expect(() => parsePort('70000', '--health-port')).toThrow(UsageError);
    expect(() => parsePort('80a', '--health-port')).toThrow(UsageError);
  });

  it('parses the registry timeout: default 5s, 100ms to 2m, errors name the flag given', () => {
    expect(parseRegistryTimeout(undefined)).toBe(5000);
    expect(parseRegistryTimeout('750ms')).toBe(750);
    expect(parseRegistryTimeout('2m')).toBe(120_000);
    expect(() => parseRegistryTimeout('99ms')).toThrow('--registry-timeout: 99ms is out of range');
    expect(() => parseRegistryTimeout('5', '--timeout')).toThrow('--timeout: invalid duration "5"');
  });

  it('turns unknown flags and stray positionals into UsageError', () => {
    const flags = { once: { type: 'boolean' }, interval: { type: 'string' } } as const;
    expect(parseFlags(['--once', '--interval', '5s'], flags)).toEqual({ once: true, interval: '5s' });
    expect(() => parseFlags(['--nope'], flags)).toThrow(UsageError);
    expect(() => parseFlags(['stray'], flags)).toThrow(UsageError);
    expect(() => parseFlags(['--interval'], flags)).toThrow(UsageError);
  });
});
