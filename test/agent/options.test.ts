import { describe, expect, it } from 'vitest';
import { CHECK_FLAGS, EXEC_MODE, HOST_FLAGS, LOG_LEVEL, parseRegistries } from '../../agent/options.js';
import { formatDuration, parseDuration, parseDurationInRange } from '../../report/duration.js';
import { parseFlagTable } from '../../report/flag-table.js';
import { parsePort } from '../../report/flag-values.js';
import { UsageError } from '../../report/usage-error.js';

/** The parsed host flags of a command line (never --help here). */
function hostFlags(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const values = parseFlagTable(HOST_FLAGS, argv, env);
  if (values === 'help') throw new Error('unexpected help');
  return values;
}

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
  it('accepts an image to pull after the host: host[:port]/repository[:tag]', () => {
    expect(
      parseRegistries('nvcr.io/nvidia/cuda:13.0.2-base-ubuntu24.04,mirror.local:5000/library/busybox'),
    ).toEqual(['nvcr.io/nvidia/cuda:13.0.2-base-ubuntu24.04', 'mirror.local:5000/library/busybox']);
  });
  it.each([
    '',
    ',',
    'https://nvcr.io',
    'host:99999',
    'host:0',
    'bad host',
    'nvcr.io/Path',
    'nvcr.io/',
    'nvcr.io/a//b',
    'nvcr.io/a:',
    'nvcr.io/a:-x',
    'nvcr.io/a@sha256:00',
  ])('refuses %j', (text) => {
    expect(() => parseRegistries(text)).toThrow(UsageError);
  });
});

describe('other option parsers', () => {
  it('parses exec modes, log levels and ports', () => {
    expect(EXEC_MODE.parse('chroot', '--exec-mode')).toBe('chroot');
    expect(() => EXEC_MODE.parse('docker', '--exec-mode')).toThrow(
      '--exec-mode: expected local or chroot, got "docker"',
    );
    expect(LOG_LEVEL.parse('warn', '--log-level')).toBe('warn');
    expect(() => LOG_LEVEL.parse('verbose', '--log-level')).toThrow(
      '--log-level: expected one of debug, info, warn, error, silent, got "verbose"',
    );
    expect(parsePort('8081', '--health-port')).toBe(8081);
    expect(parsePort('0', '--health-port', true)).toBe(0);
    expect(() => parsePort('0', '--health-port')).toThrow(UsageError);
    expect(() => parsePort('70000', '--health-port')).toThrow(UsageError);
    expect(() => parsePort('80a', '--health-port')).toThrow(UsageError);
  });

  it('parses the registry timeout: default 5s, 100ms to 2m, errors name the flag given', () => {
    expect(hostFlags([])['registry-timeout']).toBe(5000);
    expect(hostFlags(['--registry-timeout', '750ms'])['registry-timeout']).toBe(750);
    expect(hostFlags(['--registry-timeout', '2m'])['registry-timeout']).toBe(120_000);
    expect(() => hostFlags(['--registry-timeout', '99ms'])).toThrow(
      '--registry-timeout: 99ms is out of range',
    );
    expect(() => parseFlagTable(CHECK_FLAGS, ['--timeout', '5'])).toThrow('--timeout: invalid duration "5"');
    expect(parseFlagTable(CHECK_FLAGS, ['--timeout', '3s'])).toMatchObject({ 'registry-timeout': 3000 });
  });

  it('host flag defaults: the host root /, local, the three public registries, no node name', () => {
    expect(hostFlags([])).toEqual({
      'host-root': '/',
      'exec-mode': 'local',
      registries: ['nvcr.io', 'ghcr.io', 'docker.io'],
      'registry-timeout': 5000,
      'node-name': undefined,
    });
  });

  it('--node-name, else NODE_NAME, lowercased; a bad value names where it came from', () => {
    expect(hostFlags(['--node-name', 'Flag-Node'], { NODE_NAME: 'env-node' })['node-name']).toBe('flag-node');
    expect(hostFlags([], { NODE_NAME: 'Env-Node' })['node-name']).toBe('env-node');
    expect(hostFlags([], { NODE_NAME: '' })['node-name']).toBeUndefined();
    expect(() => hostFlags([], { NODE_NAME: 'Bad_Env' })).toThrow(
      /^--node-name from NODE_NAME: "Bad_Env" is not a valid node name/,
    );
    expect(() => hostFlags(['--node-name', 'Bad_Name'])).toThrow(
      /^--node-name: "Bad_Name" is not a valid node name/,
    );
    expect(() => hostFlags(['--node-name', ' '])).toThrow('--node-name: empty value');
  });
});
