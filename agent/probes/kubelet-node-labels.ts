// The labels the kubelet registers its node with (`--node-labels`), read from the host's kubelet service
// the way systemd assembles its command line, so a node's role is known before (or without) the API:
// - the unit `kubelet.service` and its drop-ins `kubelet.service.d/*.conf` (under etc/, run/, usr/lib/,
//   lib/systemd/system; a drop-in in etc/ replaces one of the same name below it; applied in name order),
// - their `Environment=` and `EnvironmentFile=` (kubeadm's drop-in reads `/var/lib/kubelet/kubeadm-flags.env`
//   with `KUBELET_KUBEADM_ARGS`, and `/etc/default/kubelet` or `/etc/sysconfig/kubelet` with
//   `KUBELET_EXTRA_ARGS`); files override `Environment=`, later ones earlier ones,
// - the last `ExecStart=`, with `$VAR` (split into words) and `${VAR}` expanded.
// Without any kubelet unit on the host, kubeadm's own files are read in the order its drop-in names them.
// The kubelet config file (`/var/lib/kubelet/config.yaml`, KubeletConfiguration) has no node-labels field:
// labels can only come from the command line.
// Repeated `--node-labels` flags merge (the kubelet's map flag), a later key replacing an earlier one.
import { readdir } from 'node:fs/promises';
import type { HostContext } from '../host.js';
import { realHostPath } from './support.js';

export const NODE_TYPE_LABEL = 'node-type';

/** systemd's unit directories, highest priority first. */
export const UNIT_DIRS = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];
/** kubeadm's files, in the order its drop-in reads them, for hosts without a kubelet unit. */
export const KUBEADM_ENV_FILES = [
  '/var/lib/kubelet/kubeadm-flags.env',
  '/etc/default/kubelet',
  '/etc/sysconfig/kubelet',
];
const KUBEADM_EXEC_START =
  '/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS';

const MAX_FILE_BYTES = 64 * 1024;
const MAX_DROP_INS = 64;

export interface NodeLabelFlag {
  /** The flag's value as given: `node-type=gpu,zone=a`. */
  value: string;
  /** The host file it came from. */
  file: string;
  /** The variable that carried it (`KUBELET_EXTRA_ARGS`), or null when written in ExecStart itself. */
  variable: string | null;
}

export interface KubeletNodeLabels {
  /** Where the command line came from: the kubelet unit, or kubeadm's files when there is no unit. */
  commandFrom: 'systemd-unit' | 'kubeadm-files';
  /** Every `--node-labels` on the command line, in order. */
  flags: NodeLabelFlag[];
  /** The labels as the kubelet applies them. */
  labels: Record<string, string>;
  /** `node-type` as registered, and the file that set it; null when no flag sets it. */
  nodeType: { value: string; file: string } | null;
}

// ---------------------------------------------------------------------------------------------------------
// Pure parsers.

/** Splits a systemd-style word list: whitespace separates, '…' and "…" group, backslash escapes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i]!;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i]!;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Joins lines ending in a backslash with the next, as systemd and its environment files do. */
function logicalLines(text: string): string[] {
  return text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
}

/** An EnvironmentFile (systemd.exec(5)): `KEY=VALUE` lines, `#`/`;` comments, quotes removed. */
export function parseEnvironmentFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of logicalLines(text)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    vars.set(m[1]!, unquote(m[2]!.trim()));
  }
  return vars;
}

/** A whole-value quote removed: "…" with \" and \\ escapes, '…' literally; anything else as written. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value;
}

export interface UnitService {
  /** `Environment=` assignments in order; `null` marks an empty assignment (resets the list). */
  environment: Array<[string, string] | null>;
  /** `EnvironmentFile=` paths in order (`-` prefix: optional); `null` resets the list. */
  environmentFiles: Array<{ path: string; optional: boolean } | null>;
  /** `ExecStart=` values in order; `null` resets. */
  execStart: Array<string | null>;
}

/** The [Service] settings of a unit file or drop-in that shape the kubelet's command line. */
export function parseUnitFile(text: string): UnitService {
  const unit: UnitService = { environment: [], environmentFiles: [], execStart: [] };
  let section = '';
  for (const raw of logicalLines(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const m = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    if (section !== 'Service' || !m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'Environment') {
      if (value === '') unit.environment.push(null);
      for (const word of splitWords(value)) {
        const eq = word.indexOf('=');
        if (eq > 0) unit.environment.push([word.slice(0, eq), word.slice(eq + 1)]);
      }
    } else if (key === 'EnvironmentFile') {
      unit.environmentFiles.push(
        value === '' ? null : { path: value.replace(/^-/, ''), optional: value.startsWith('-') },
      );
    } else if (key === 'ExecStart') {
      unit.execStart.push(value === '' ? null : value);
    }
  }
  return unit;
}

interface Sourced {
  value: string;
  file: string;
}

/** ExecStart's words with `$VAR` (split) and `${VAR}` (one word) expanded; each with its origin. */
export function expandCommand(
  execStart: string,
  execFile: string,
  vars: Map<string, Sourced>,
): Array<{ word: string; file: string; variable: string | null }> {
  const out: Array<{ word: string; file: string; variable: string | null }> = [];
  for (const word of splitWords(execStart)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      const v = vars.get(whole[1]!);
      if (v) for (const w of splitWords(v.value)) out.push({ word: w, file: v.file, variable: whole[1]! });
      continue;
    }
    let from: { file: string; variable: string | null } = { file: execFile, variable: null };
    const expanded = word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = vars.get(name);
      if (v) from = { file: v.file, variable: name };
      return v?.value ?? '';
    });
    out.push({ word: expanded, ...from });
  }
  return out;
}

/** `--node-labels=V` / `--node-labels V` occurrences in a command line, in order. */
export function nodeLabelFlags(
  words: Array<{ word: string; file: string; variable: string | null }>,
): NodeLabelFlag[] {
  const flags: NodeLabelFlag[] = [];
  for (let i = 0; i < words.length; i++) {
    const { word, file, variable } = words[i]!;
    if (word.startsWith('--node-labels='))
      flags.push({ value: word.slice('--node-labels='.length), file, variable });
    else if (word === '--node-labels' && i + 1 < words.length) {
      const next = words[++i]!;
      flags.push({ value: next.word, file: next.file, variable: next.variable });
    }
  }
  return flags;
}

/** Merges `--node-labels` values as the kubelet does (`k=v,k2=v2`; a later key replaces an earlier one). */
export function mergeNodeLabels(flags: NodeLabelFlag[]): Pick<KubeletNodeLabels, 'labels' | 'nodeType'> {
  const labels: Record<string, string> = {};
  let nodeType: KubeletNodeLabels['nodeType'] = null;
  for (const flag of flags) {
    for (const pair of flag.value.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const key = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      labels[key] = value;
      if (key === NODE_TYPE_LABEL) nodeType = { value, file: flag.file };
    }
  }
  return { labels, nodeType };
}

// ---------------------------------------------------------------------------------------------------------
// Reading the host.

async function readSmall(host: HostContext, file: string): Promise<string | null> {
  try {
    return await host.readFile(file, MAX_FILE_BYTES);
  } catch {
    return null; // absent or unreadable: systemd skips such a file too (or fails the unit)
  }
}

/** The kubelet unit file and its drop-ins, in the order systemd applies them. */
async function unitFiles(host: HostContext): Promise<string[]> {
  const files: string[] = [];
  for (const dir of UNIT_DIRS) {
    if ((await readSmall(host, `${dir}/kubelet.service`)) !== null) {
      files.push(`${dir}/kubelet.service`);
      break;
    }
  }
  const dropIns = new Map<string, string>();
  for (const dir of UNIT_DIRS) {
    let names: string[];
    try {
      names = await readdir(await realHostPath(host, `${dir}/kubelet.service.d`));
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.endsWith('.conf')).slice(0, MAX_DROP_INS)) {
      if (!dropIns.has(name)) dropIns.set(name, `${dir}/kubelet.service.d/${name}`);
    }
  }
  const sorted = [...dropIns.keys()].sort().map((name) => dropIns.get(name)!);
  return [...files, ...sorted];
}

/** Applies the units in order: resets, assignments, and the last ExecStart. */
async function assemble(host: HostContext, files: string[]) {
  const environment: Array<[string, Sourced]> = [];
  const envFiles: Array<{ path: string; optional: boolean }> = [];
  let exec: Sourced | null = null;
  for (const file of files) {
    const text = await readSmall(host, file);
    if (text === null) continue;
    const unit = parseUnitFile(text);
    for (const e of unit.environment) {
      if (e === null) environment.length = 0;
      else environment.push([e[0], { value: e[1], file }]);
    }
    for (const f of unit.environmentFiles) {
      if (f === null) envFiles.length = 0;
      else envFiles.push(f);
    }
    for (const x of unit.execStart) exec = x === null ? null : { value: x, file };
  }
  return { environment, envFiles, exec };
}

/**
 * The kubelet's `--node-labels` as registered, with the file each came from; null when the host has no
 * kubelet unit and none of kubeadm's files.
 */
export async function readKubeletNodeLabels(host: HostContext): Promise<KubeletNodeLabels | null> {
  const files = await unitFiles(host);
  const fromUnit = files.length > 0;
  const { environment, envFiles, exec } = fromUnit
    ? await assemble(host, files)
    : {
        environment: [],
        envFiles: KUBEADM_ENV_FILES.map((path) => ({ path, optional: true })),
        exec: { value: KUBEADM_EXEC_START, file: '(kubeadm defaults)' },
      };
  const vars = new Map<string, Sourced>(environment);
  let anyEnvFile = false;
  for (const { path } of envFiles) {
    const text = await readSmall(host, path);
    if (text === null) continue;
    anyEnvFile = true;
    for (const [k, v] of parseEnvironmentFile(text)) vars.set(k, { value: v, file: path });
  }
  if (!fromUnit && !anyEnvFile) return null;
  const flags = exec === null ? [] : nodeLabelFlags(expandCommand(exec.value, exec.file, vars));
  return { commandFrom: fromUnit ? 'systemd-unit' : 'kubeadm-files', flags, ...mergeNodeLabels(flags) };
}
