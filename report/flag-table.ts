// Every command's options are one table of data (name → value kind, default, environment variable, help
// text, --help section). From the table come the command-line parser (argv, then the environment, then
// the default), the error messages (naming the flag, or the variable the text came from) and the --help
// text, so the three cannot drift apart. `-h, --help` is added to every table here.
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { errorMessage } from './error-message.js';
import { UsageError } from './usage-error.js';

/** How a flag's text becomes its value. */
export interface ValueKind<T> {
  /** Placeholder shown in --help (`DURATION`, `FILE`, `local|chroot`); empty for a switch. */
  readonly metavar: string;
  /** A switch takes no value on the command line (present = true, absent = false). */
  readonly isSwitch?: boolean;
  /** The accepted range, shown in --help (`1s to 24h`). */
  readonly range?: string;
  /**
   * Text → value. `label` names where the text came from (`--interval`, or `--interval from
   * OSMO_VALIDATOR_INTERVAL`); a bad text is a UsageError starting with it. For a switch only the
   * environment's text is parsed.
   */
  parse(text: string, label: string): T;
}

export interface ValueFlag<T = unknown> {
  readonly kind: ValueKind<T>;
  /** The default as text, parsed like a given value and shown in --help. Without one the value may be undefined. */
  readonly default?: string;
  /** Read when the flag is not given; a variable that is empty (or only blanks) counts as not set. */
  readonly env?: string;
  /** One paragraph for --help (wrapped there). */
  readonly help: string;
  /** The --help heading this flag is listed under; flags of one section are adjacent in the table. */
  readonly section?: string;
}

/** A second name of another flag of the same table; giving both is an error. */
export interface AliasFlag {
  readonly aliasOf: string;
  readonly help?: string;
  readonly section?: string;
}

export type FlagDef = ValueFlag | AliasFlag;
export type FlagTable = Readonly<Record<string, FlagDef>>;

type ValueOf<F> =
  F extends ValueFlag<infer T>
    ? F extends { readonly default: string }
      ? T
      : F['kind'] extends { readonly isSwitch: true }
        ? T
        : T | undefined
    : never;

/** The parsed values of a table, keyed by flag name (aliases fold into the flag they name). */
export type FlagValues<T extends FlagTable> = {
  -readonly [K in keyof T as T[K] extends AliasFlag ? never : K]: ValueOf<T[K]>;
};

export const ENV_PREFIX = 'OSMO_VALIDATOR_';

/** `--token-file` → `OSMO_VALIDATOR_TOKEN_FILE`. */
export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

/** The table with every flag also read from `OSMO_VALIDATOR_<FLAG>`. */
export function withEnvironment<const T extends FlagTable>(table: T): T {
  return Object.fromEntries(
    Object.entries(table).map(([name, def]) => [name, isAlias(def) ? def : { ...def, env: envName(name) }]),
  ) as unknown as T;
}

export function isAlias(def: FlagDef): def is AliasFlag {
  return 'aliasOf' in def;
}

const HELP_FLAG = 'help';

function argvOptions(table: FlagTable): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = { [HELP_FLAG]: { type: 'boolean', short: 'h' } };
  for (const [name, def] of Object.entries(table)) {
    const target = isAlias(def) ? table[def.aliasOf] : def;
    if (target === undefined || isAlias(target)) throw new Error(`flag table: --${name} names no flag`);
    options[name] = { type: target.kind.isSwitch ? 'boolean' : 'string' };
  }
  return options;
}

type Given = Record<string, string | boolean | undefined>;
interface Source {
  text: string;
  label: string;
  onCommandLine: boolean;
}

/** Where a flag's text comes from: the command line (under its name or an alias), the environment, the default. */
function sourceOf(name: string, def: ValueFlag, table: FlagTable, given: Given, env: NodeJS.ProcessEnv) {
  const names = [
    name,
    ...Object.keys(table).filter((n) => (table[n] as { aliasOf?: string }).aliasOf === name),
  ];
  const present = names.filter((n) => given[n] !== undefined);
  if (present.length > 1) {
    throw new UsageError(`${present.map((n) => `--${n}`).join(' and ')} are the same option; give only one`);
  }
  const flag = present[0];
  if (flag !== undefined) {
    const value = given[flag];
    return { text: typeof value === 'string' ? value : '', label: `--${flag}`, onCommandLine: true };
  }
  const raw = def.env === undefined ? undefined : env[def.env];
  if (raw !== undefined && raw.trim() !== '') {
    return { text: raw, label: `--${name} from ${def.env}`, onCommandLine: false };
  }
  if (def.default !== undefined) return { text: def.default, label: `--${name}`, onCommandLine: false };
  return undefined;
}

function flagValue(def: ValueFlag, source: Source | undefined): unknown {
  if (def.kind.isSwitch) {
    if (source === undefined) return false;
    return source.onCommandLine ? true : def.kind.parse(source.text, source.label);
  }
  return source === undefined ? undefined : def.kind.parse(source.text, source.label);
}

/**
 * Parses a command line against a table: unknown flags, missing values and positionals are UsageErrors;
 * a flag given twice keeps the last value; a flag not given is read from its environment variable, else
 * its default. `'help'` when -h/--help is given (nothing else is then checked).
 */
export function parseFlagTable<const T extends FlagTable>(
  table: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): FlagValues<T> | 'help' {
  let given: Given;
  try {
    // No option is `multiple`, so every value is one string or boolean.
    given = parseArgs({ args: [...argv], options: argvOptions(table), strict: true, allowPositionals: false })
      .values as Given;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  if (given[HELP_FLAG] === true) return 'help';
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(table)) {
    if (!isAlias(def)) values[name] = flagValue(def, sourceOf(name, def, table, given, env));
  }
  return values as FlagValues<T>;
}
