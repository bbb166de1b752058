// PromQL helpers for the monitoring tests: running promtool (the Prometheus project's own checker, from
// Debian's `prometheus` package), the metric names an expression reads, and the metric names the code
// defines.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PromtoolResult {
  status: number;
  output: string;
}

/**
 * Runs promtool. Missing promtool is an error that says how to install it, never a skipped check: the
 * rule checks are only real when Prometheus' own parser and rule engine run them.
 */
export function promtool(args: string[], cwd?: string): PromtoolResult {
  try {
    const output = execFileSync('promtool', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { status: 0, output };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'promtool is not installed: it comes with Debian\'s "prometheus" package (apt-get install -y prometheus); ' +
          'the PrometheusRule and dashboard checks in test/manifests need it',
      );
    }
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names an expression selects. PromQL's lexical structure is simple enough for this: drop
 * string literals, label matchers (`{...}`), range and subquery brackets (`[...]`), and the label lists of
 * by/without/on/ignoring/group_left/group_right; what remains that is an identifier not followed by `(` (a
 * function or aggregation) and not a keyword is a metric name. `{__name__=...}` selectors are refused.
 */
export function metricNames(expr: string): string[] {
  if (/__name__/.test(expr)) throw new Error(`selector by __name__ is not supported: ${expr}`);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const after = stripped.slice((m.index ?? 0) + name.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase())) continue;
    // A number's exponent or a duration's unit (1e3, 5m) is not a name.
    const before = stripped[(m.index ?? 0) - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    out.add(name);
  }
  return [...out].sort();
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Quoted metric names matching `pattern` in the source files under `dirs`. */
export function quotedNames(dirs: string[], pattern: RegExp): Set<string> {
  const out = new Set<string>();
  const quoted = new RegExp(`['"\`](${pattern.source})['"\`]`, 'g');
  for (const dir of dirs)
    for (const file of sourceFiles(dir))
      for (const m of readFileSync(file, 'utf8').matchAll(quoted)) out.add(m[1] as string);
  return out;
}

/** Series names a defined metric may be read as (histograms and summaries add these). */
export function seriesOf(name: string): string[] {
  return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
}
