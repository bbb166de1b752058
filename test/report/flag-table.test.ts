// The generic flag-table engine: command line, then environment, then default; aliases; switches; errors
// that name the flag or the variable; and the --help text written from the table.
import { describe, expect, it } from 'vitest';
import { flagSynopsis, helpText } from '../../report/flag-help.js';
import { envName, type FlagTable, parseFlagTable, withEnvironment } from '../../report/flag-table.js';
import { choice, duration, file, number, port, SWITCH, text } from '../../report/flag-values.js';
import { UsageError } from '../../report/usage-error.js';

const TABLE = {
  interval: { kind: duration(1000, 60_000), default: '30s', env: 'T_INTERVAL', help: 'how often' },
  name: { kind: text('NAME'), env: 'T_NAME', help: 'a name' },
  wait: { aliasOf: 'interval', help: 'the same as --interval' },
  once: { kind: SWITCH, env: 'T_ONCE', help: 'once only' },
  mode: { kind: choice(['a', 'b', 'c']), default: 'a', help: 'which mode', section: 'More' },
  port: { kind: port(), help: 'a port' },
  share: { kind: number({ min: 0, max: 100 }), help: 'a share' },
  file: { kind: file(), help: 'a file' },
} as const satisfies FlagTable;

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const values = parseFlagTable(TABLE, argv, env);
  if (values === 'help') throw new Error('unexpected help');
  return values;
}

describe('parseFlagTable', () => {
  it('defaults: parsed from the default text; no default is undefined; an absent switch is false', () => {
    expect(parse([])).toEqual({
      interval: 30_000,
      name: undefined,
      once: false,
      mode: 'a',
      port: undefined,
      share: undefined,
      file: undefined,
    });
  });

  it('the command line wins over the environment, which wins over the default', () => {
    const env = { T_INTERVAL: '40s', T_NAME: 'from-env', T_ONCE: 'yes' };
    expect(parse([], env)).toMatchObject({ interval: 40_000, name: 'from-env', once: true });
    expect(parse(['--interval', '50s', '--name', 'given'], env)).toMatchObject({
      interval: 50_000,
      name: 'given',
    });
    expect(parse([], { T_ONCE: 'false' }).once).toBe(false);
    expect(parse([], { T_ONCE: '0' }).once).toBe(false);
  });

  it('an empty or blank variable counts as not set', () => {
    expect(parse([], { T_INTERVAL: '', T_NAME: '  ', T_ONCE: '' })).toMatchObject({
      interval: 30_000,
      name: undefined,
      once: false,
    });
  });

  it('the last of a flag given twice wins; --flag=value works', () => {
    expect(parse(['--mode', 'b', '--mode=c']).mode).toBe('c');
  });

  it('errors name the flag, or the variable the text came from', () => {
    expect(() => parse(['--interval', '5'])).toThrow('--interval: invalid duration "5"');
    expect(() => parse([], { T_INTERVAL: '5' })).toThrow('--interval from T_INTERVAL: invalid duration "5"');
    expect(() => parse([], { T_ONCE: 'perhaps' })).toThrow(
      '--once from T_ONCE: expected true or false, got "perhaps"',
    );
    expect(() => parse(['--mode', 'd'])).toThrow('--mode: expected one of a, b, c, got "d"');
    expect(() => parse(['--interval', '2m'])).toThrow('--interval: 2m is out of range (1s to 1m)');
    expect(() => parse(['--share', '101'])).toThrow('--share: expected a number from 0 to 100, got "101"');
    expect(() => parse(['--port', '0'])).toThrow('--port: expected a port number 1-65535, got "0"');
    expect(() => parse(['--file', ''])).toThrow('--file: empty path');
    expect(() => parse(['--name', ' '])).toThrow('--name: empty value');
  });

  it('unknown flags, missing values, values of switches and positionals are UsageErrors', () => {
    for (const argv of [['--nope'], ['--interval'], ['stray'], ['--once=yes'], ['-x']]) {
      expect(() => parse(argv), argv.join(' ')).toThrow(UsageError);
    }
    expect(() => parse(['--nope'])).toThrow(/--nope/);
  });

  it('an alias sets the flag it names, under its own name in errors; both at once is an error', () => {
    expect(parse(['--wait', '10s']).interval).toBe(10_000);
    expect(parse(['--wait', '10s'])).not.toHaveProperty('wait');
    expect(() => parse(['--wait', '10'])).toThrow('--wait: invalid duration "10"');
    expect(() => parse(['--interval', '2s', '--wait', '3s'])).toThrow(
      '--interval and --wait are the same option; give only one',
    );
    // The alias wins over the environment like the flag itself.
    expect(parse(['--wait', '10s'], { T_INTERVAL: '40s' }).interval).toBe(10_000);
  });

  it('-h/--help is on every table and wins over anything else', () => {
    expect(parseFlagTable(TABLE, ['--help'])).toBe('help');
    expect(parseFlagTable(TABLE, ['-h', '--interval', '5'])).toBe('help');
    expect(parseFlagTable({}, ['--help'])).toBe('help');
    expect(() => parseFlagTable({}, ['--bogus', '--help'])).toThrow(UsageError);
  });

  it('a table whose alias names no flag is a programming error, not a usage error', () => {
    const broken = { x: { aliasOf: 'y' } } as const satisfies FlagTable;
    expect(() => parseFlagTable(broken, [])).toThrow('flag table: --x names no flag');
  });

  it('withEnvironment reads every flag from OSMO_VALIDATOR_<FLAG>', () => {
    const table = withEnvironment({
      'stale-after': { kind: duration(1000, 60_000), default: '10s', help: 'h' },
      'no-auth': { kind: SWITCH, help: 'h' },
      old: { aliasOf: 'stale-after' },
    } as const satisfies FlagTable);
    expect(envName('stale-after')).toBe('OSMO_VALIDATOR_STALE_AFTER');
    expect(
      parseFlagTable(table, [], { OSMO_VALIDATOR_STALE_AFTER: '20s', OSMO_VALIDATOR_NO_AUTH: '1' }),
    ).toEqual({ 'stale-after': 20_000, 'no-auth': true });
    expect(table.old).toEqual({ aliasOf: 'stale-after' });
  });
});

describe('helpText', () => {
  const help = helpText(TABLE, { usage: 'tool run [options]', about: 'Runs.', footer: 'Exit 0.' });
  const lines = help.split('\n');

  it('lists every flag with its placeholder, in table order, then -h, --help', () => {
    const listed = lines.filter((l) => /^ {2}-/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]);
    expect(listed).toEqual([...Object.keys(TABLE).map((n) => flagSynopsis(n, TABLE)), '-h, --help']);
    expect(flagSynopsis('interval', TABLE)).toBe('--interval DURATION');
    expect(flagSynopsis('wait', TABLE)).toBe('--wait DURATION');
    expect(flagSynopsis('once', TABLE)).toBe('--once');
    expect(flagSynopsis('mode', TABLE)).toBe('--mode a|b|c');
  });

  it('shows defaults, ranges and environment variables from the table', () => {
    expect(help).toMatch(/--interval DURATION +how often \(default 30s, 1s to 1m; env T_INTERVAL\)/);
    expect(help).toMatch(/--once +once only \(env T_ONCE=true\)/);
    expect(help).toMatch(/--share N +a share \(0 to 100\)/);
    expect(help).toMatch(/--wait DURATION +the same as --interval\n/);
  });

  it('has the usage line, the sections, the footer; no line is wider than 108 columns', () => {
    expect(lines[0]).toBe('Usage: tool run [options]');
    expect(lines.indexOf('Options:')).toBeLessThan(lines.indexOf('More:'));
    expect(lines.indexOf('More:')).toBeLessThan(lines.findIndex((l) => l.includes('--mode')));
    expect(help.trimEnd().endsWith('Exit 0.')).toBe(true);
    const wide = helpText(
      { 'a-very-long-flag-name-indeed': { kind: text('SOMETHING-LONG'), help: 'word '.repeat(60) } },
      { usage: 'u', about: 'a' },
    );
    expect(wide).toMatch(/^ {2}--a-very-long-flag-name-indeed SOMETHING-LONG\n {36}word/m);
    for (const line of [...lines, ...wide.split('\n')]) expect(line.length).toBeLessThanOrEqual(108);
  });
});
