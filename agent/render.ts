// The human-readable form of a NodeResult for `check`: a table of status, check, observed and expected,
// with the message and remediation indented under every check that did not pass, the probe errors, and
// a summary line with the verdict. Colour is the caller's decision (TTY and NO_COLOR).
import type { CheckResult, CheckStatus, NodeResult } from '../report/schema.js';

export interface RenderOptions {
  color: boolean;
  /** Why the role was chosen (auto), e.g. `NVIDIA GPU found`. */
  roleReason?: string | undefined;
  /** Wrap width of message and remediation lines. */
  width?: number;
}

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
};

const STATUS_LABEL: Readonly<Record<CheckStatus, string>> = {
  pass: 'pass',
  warn: 'WARN',
  fail: 'FAIL',
  error: 'ERROR',
  skip: 'skip',
};
const STATUS_COLOR: Readonly<Record<CheckStatus, string>> = {
  pass: ANSI.green,
  warn: ANSI.yellow,
  fail: ANSI.red + ANSI.bold,
  error: ANSI.red + ANSI.bold,
  skip: ANSI.dim,
};
const MAX_CELL = 44;

function cell(text: string | null, width: number): string {
  const t = text ?? '-';
  const cut = t.length > MAX_CELL ? `${t.slice(0, MAX_CELL - 1)}…` : t;
  return cut.padEnd(width);
}

/** Greedy word wrap; every line gets `indent`, the first one `first` instead. */
function wrap(text: string, width: number, first: string, indent: string): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const w of words) {
    if (!empty && line.length + 1 + w.length > width) {
      lines.push(line);
      line = indent + w;
    } else {
      line += (empty ? '' : ' ') + w;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function describeRole(result: Pick<NodeResult, 'role' | 'roleSource'>, reason?: string): string {
  if (result.roleSource === 'flag') return `${result.role} (--role)`;
  if (result.roleSource === 'facts') return `${result.role} (auto: ${reason ?? 'derived from the host'})`;
  return `${result.role} (${result.roleSource})`;
}

export function renderTable(result: NodeResult, options: RenderOptions): string {
  const paint = (color: string, s: string) => (options.color ? `${color}${s}${ANSI.reset}` : s);
  const width = options.width ?? 100;
  const out: string[] = [];
  out.push(`node: ${result.node}`);
  out.push(`role: ${describeRole(result, options.roleReason)}`);
  out.push(`spec: ${result.spec.name} (revision ${result.spec.revision})`);
  out.push('');

  const rows: CheckResult[] = result.checks;
  const w = {
    status: 6,
    id: Math.max(5, ...rows.map((c) => c.id.length)),
    observed: Math.min(MAX_CELL, Math.max(8, ...rows.map((c) => (c.observed ?? '-').length))),
  };
  out.push(
    paint(
      ANSI.bold,
      `${'STATUS'.padEnd(w.status)}  ${'CHECK'.padEnd(w.id)}  ${'OBSERVED'.padEnd(w.observed)}  EXPECTED`,
    ),
  );
  const indent = ' '.repeat(w.status + 2);
  for (const c of rows) {
    const status = paint(STATUS_COLOR[c.status], STATUS_LABEL[c.status].padEnd(w.status));
    // A skipped check shows why instead of an expectation.
    const expected = c.status === 'skip' ? c.message : (c.expected ?? '-');
    out.push(`${status}  ${c.id.padEnd(w.id)}  ${cell(c.observed, w.observed)}  ${expected}`.trimEnd());
    if (c.status === 'fail' || c.status === 'warn' || c.status === 'error') {
      out.push(...wrap(c.message, width, indent, indent));
      if (c.remediation) out.push(...wrap(c.remediation, width, `${indent}fix: `, `${indent}     `));
    }
  }

  if (result.probeErrors.length > 0) {
    out.push('');
    out.push(paint(ANSI.bold, 'probe errors:'));
    for (const e of result.probeErrors)
      out.push(...wrap(`${e.probe} (${e.kind}): ${e.message}`, width, '  ', '    '));
  }

  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, error: 0, skip: 0 };
  for (const c of rows) counts[c.status]++;
  const verdictColor =
    result.verdict === 'pass' ? ANSI.green : result.verdict === 'warn' ? ANSI.yellow : ANSI.red + ANSI.bold;
  out.push('');
  out.push(
    `verdict: ${paint(verdictColor, result.verdict.toUpperCase())} — ${counts.pass} passed, ` +
      `${plural(counts.warn, 'warning')}, ${counts.fail} failed, ${plural(counts.error, 'error')}, ${counts.skip} skipped`,
  );
  return `${out.join('\n')}\n`;
}
