// The --help text of a command, written from its flag table (report/flag-table.ts): every flag with its
// value placeholder, help, default and environment variable, under its section, then `-h, --help`.
import { type FlagDef, type FlagTable, isAlias, type ValueFlag } from './flag-table.js';

export interface CommandHelp {
  /** After `Usage: `, e.g. `osmo-node-validator check [options]`. */
  usage: string;
  /** Text between the usage line and the options, as written (not re-wrapped). */
  about: string;
  /** Text after the options (exit status, notes), as written. */
  footer?: string;
}

const WIDTH = 108;
const MAX_NAME_COLUMN = 36;
const DEFAULT_SECTION = 'Options';

/** The flag's own value flag: itself, or the one an alias names. */
function target(def: FlagDef, table: FlagTable): ValueFlag {
  const resolved = isAlias(def) ? table[def.aliasOf] : def;
  if (resolved === undefined || isAlias(resolved)) throw new Error('flag table: an alias names no flag');
  return resolved;
}

/** `--interval DURATION`, `--once`. */
export function flagSynopsis(name: string, table: FlagTable): string {
  const def = table[name];
  if (def === undefined) throw new Error(`flag table: no --${name}`);
  const { metavar } = target(def, table).kind;
  return metavar === '' ? `--${name}` : `--${name} ${metavar}`;
}

function helpOf(def: FlagDef): string {
  if (isAlias(def)) return def.help ?? `the same as --${def.aliasOf}`;
  const notes: string[] = [];
  const value = [def.default === undefined ? '' : `default ${def.default}`, def.kind.range ?? ''];
  if (value.some(Boolean)) notes.push(value.filter(Boolean).join(', '));
  if (def.env !== undefined) notes.push(`env ${def.env}${def.kind.isSwitch ? '=true' : ''}`);
  return notes.length === 0 ? def.help : `${def.help} (${notes.join('; ')})`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function entry(synopsis: string, help: string, column: number): string[] {
  const left = `  ${synopsis}`;
  const body = wrap(help, WIDTH - column);
  const indent = ' '.repeat(column);
  const first =
    left.length + 2 <= column ? [`${left.padEnd(column)}${body.shift() ?? ''}`.trimEnd()] : [left];
  return [...first, ...body.map((l) => indent + l)];
}

export function helpText(table: FlagTable, text: CommandHelp): string {
  const names = Object.keys(table);
  const synopses = new Map(names.map((n) => [n, flagSynopsis(n, table)]));
  const widest = Math.max(12, ...[...synopses.values()].map((s) => s.length));
  const column = Math.min(widest + 4, MAX_NAME_COLUMN);
  const lines = [`Usage: ${text.usage}`, '', text.about.trimEnd()];
  let section: string | undefined;
  for (const name of names) {
    const def = table[name] as FlagDef;
    const heading = def.section ?? section ?? DEFAULT_SECTION;
    if (heading !== section) lines.push('', `${heading}:`);
    section = heading;
    lines.push(...entry(synopses.get(name) as string, helpOf(def), column));
  }
  if (section === undefined) lines.push('', `${DEFAULT_SECTION}:`);
  lines.push(...entry('-h, --help', 'this text', column));
  if (text.footer !== undefined) lines.push('', text.footer.trimEnd());
  return `${lines.join('\n')}\n`;
}
