// Each command's flag table is the one description of its options: README's section for the command
// documents exactly the flags of the table (and its environment variables), and the command's own --help,
// run through its real entry point, lists every flag of the table with its default and variable.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../agent/agent-command.js';
import { run as runCheck } from '../../agent/check-command.js';
import { AGENT_FLAGS, CHECK_FLAGS } from '../../agent/options.js';
import { run as runAggregator } from '../../aggregator/aggregator-command.js';
import { AGGREGATOR_FLAGS, PRUNE_FLAGS } from '../../aggregator/options.js';
import { runPrune } from '../../aggregator/prune-command.js';
import { flagSynopsis } from '../../report/flag-help.js';
import { ENV_PREFIX, envName, type FlagTable, isAlias } from '../../report/flag-table.js';
import { captureIo } from '../helpers/io.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

async function helpOf(command: string): Promise<string> {
  const out: string[] = [];
  const stdout = (t: string) => void out.push(t);
  let code: number;
  if (command === 'check') {
    const io = captureIo();
    code = await runCheck(['--help'], io);
    out.push(io.out());
  } else if (command === 'agent') {
    code = await runAgent(['--help'], { stdout });
  } else if (command === 'aggregator') {
    code = await runAggregator(['--help'], { stdout, env: {} });
  } else {
    code = await runPrune(['--help'], { out: stdout, err: stdout });
  }
  expect(code).toBe(0);
  return out.join('');
}

const COMMANDS: Array<[string, FlagTable]> = [
  ['check', CHECK_FLAGS],
  ['agent', AGENT_FLAGS],
  ['aggregator', AGGREGATOR_FLAGS],
  ['prune', PRUNE_FLAGS],
];

/** README's `### \`command\`` section, up to the next heading. */
function readmeSection(command: string): string {
  const start = README.indexOf(`### \`${command}\``);
  expect(start, `README has a section for ${command}`).toBeGreaterThanOrEqual(0);
  const rest = README.slice(start + 4);
  const end = rest.search(/^#{2,3} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Every `--flag` a text names (not `--help`, which every command has). */
function flagsNamed(text: string): string[] {
  const names = [...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);
  return [...new Set(names)].filter((n) => n !== 'help').sort();
}

/** The flags README documents for a command: its option table's first column, or its `Options:` list. */
function flagsDocumented(section: string): string[] {
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `--'))
    .map((l) => l.split(' | ')[0] ?? '');
  const list = /Options: [\s\S]*?(?:\n\n|$)/.exec(section)?.[0] ?? '';
  return flagsNamed([...rows, list].join('\n'));
}

describe.each(COMMANDS)('%s', (command, table) => {
  it("README's section documents exactly the flags of the table, and names no other", () => {
    const section = readmeSection(command);
    expect(flagsDocumented(section)).toEqual(Object.keys(table).sort());
    expect(flagsNamed(section)).toEqual(Object.keys(table).sort());
  });

  it("README names each flag's environment variable (or the OSMO_VALIDATOR_ rule for all)", () => {
    const section = readmeSection(command);
    const rule = section.includes(`\`${ENV_PREFIX}\` + the flag in upper case`);
    for (const [name, def] of Object.entries(table)) {
      if (isAlias(def) || def.env === undefined) continue;
      const documented = section.includes(def.env) || (rule && def.env === envName(name));
      expect(documented, `${def.env} (--${name}) in README's ${command} section`).toBe(true);
    }
  });

  it('--help lists every flag of the table with its default and variable, and nothing else', async () => {
    const help = await helpOf(command);
    const lines = help.split('\n');
    for (const [name, def] of Object.entries(table)) {
      const at = lines.findIndex((l) => l.startsWith(`  ${flagSynopsis(name, table)}`));
      expect(at, `--${name} in ${command} --help`).toBeGreaterThanOrEqual(0);
      // The flag's text runs from its line to the next flag's.
      const next = lines.findIndex((l, i) => i > at && /^ {2}-/.test(l));
      const text = lines.slice(at, next).join(' ').replace(/\s+/g, ' ');
      if (!isAlias(def) && def.default !== undefined) expect(text).toContain(`default ${def.default}`);
      if (!isAlias(def) && def.env !== undefined) expect(text).toContain(`env ${def.env}`);
    }
    const listed = lines
      .filter((l) => /^ {2}--/.test(l))
      .map((l) => (l.match(/^ {2}--([a-z0-9-]+)/) ?? [])[1]);
    expect(listed.sort()).toEqual(Object.keys(table).sort());
    expect(help).toMatch(/^ {2}-h, --help /m);
  });
});
