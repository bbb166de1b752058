// The value kinds flag tables are written with (report/flag-table.ts): switch, text, file, duration,
// port, number, choice. Each error is a UsageError naming where the text came from and the accepted form.
import { formatDuration, parseDurationInRange } from './duration.js';
import type { ValueKind } from './flag-table.js';
import { UsageError } from './usage-error.js';

/** A flag without a value; from the environment: true/1/yes or false/0/no. */
export const SWITCH: ValueKind<boolean> & { readonly isSwitch: true } = {
  metavar: '',
  isSwitch: true,
  parse(text, label) {
    if (/^(true|1|yes)$/i.test(text.trim())) return true;
    if (/^(false|0|no)$/i.test(text.trim())) return false;
    throw new UsageError(`${label}: expected true or false, got ${JSON.stringify(text)}`);
  },
};

/** Any non-blank text, as given. */
export function text(metavar: string): ValueKind<string> {
  return {
    metavar,
    parse(value, label) {
      if (value.trim() === '') throw new UsageError(`${label}: empty value`);
      return value;
    },
  };
}

/** A file path, as given (whether it can be read is found where it is read). */
export function file(metavar = 'FILE'): ValueKind<string> {
  return {
    metavar,
    parse(value, label) {
      if (value.trim() === '') throw new UsageError(`${label}: empty path`);
      return value;
    },
  };
}

/** A duration (250ms, 30s, 5m, 1h30m) within bounds, in milliseconds. */
export function duration(minMs: number, maxMs: number): ValueKind<number> {
  return {
    metavar: 'DURATION',
    range: `${formatDuration(minMs)} to ${formatDuration(maxMs)}`,
    parse: (value, label) => parseDurationInRange(value, label, minMs, maxMs),
  };
}

/** A TCP port; 0 (any free port) only when allowZero. */
export function parsePort(value: string, flag: string, allowZero = false): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(`${flag}: expected a port number 1-65535, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function port(options: { allowZero?: boolean } = {}): ValueKind<number> {
  return { metavar: 'PORT', parse: (value, label) => parsePort(value, label, options.allowZero === true) };
}

/** A non-negative decimal number within [min, max]; whole when `integer`. */
export function number(options: { min: number; max: number; integer?: boolean }): ValueKind<number> {
  const { min, max, integer = false } = options;
  return {
    metavar: 'N',
    range: `${min} to ${max}`,
    parse(value, label) {
      const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
      if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
        throw new UsageError(
          `${label}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`,
        );
      }
      return n;
    },
  };
}

/** One of a fixed list of words. */
export function choice<const C extends string>(
  choices: readonly C[],
  metavar = choices.join('|'),
): ValueKind<C> {
  const expected = choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`;
  return {
    metavar,
    parse(value, label) {
      if ((choices as readonly string[]).includes(value)) return value as C;
      throw new UsageError(`${label}: expected ${expected}, got ${JSON.stringify(value)}`);
    },
  };
}
