// spec/README.md's "Every requirement line" table against the requirements document (spec/requirements.rst,
// a copy of the seed): every bullet of the document is a row, saying which node check covers it, which
// cluster check, or why a node agent cannot check it; every check id named exists, and every check of the
// built-in baseline and every cluster check is named somewhere.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterCheckResults } from '../../spec/cluster-checks.js';
import { loadSpec, type Spec } from '../../spec/load.js';

const read = (relative: string) =>
  readFileSync(fileURLToPath(new URL(`../../${relative}`, import.meta.url)), 'utf8');

/** rst inline markup as the table writes it: **bold** plain, ``literal`` as `literal`, a link as its text. */
function inline(text: string): string {
  return text
    .replace(/`([^`<]+?)\s*<[^>]+>`__?/g, '$1')
    .replace(/\*\*(.+?)\*\*/g, '$1')
    .replace(/``(.+?)``/g, '`$1`')
    .trim();
}

interface Bullet {
  indent: number;
  /** The bold label, when the bullet starts with one. */
  label: string | null;
  /** What follows the label's colon, or the whole bullet. */
  value: string;
}

/**
 * Every requirement line of the document: each bullet, as `Section › group › … › Label: value`. A bullet
 * with a label and nothing after it (`**Minimum requirements**:`) is a group, not a line; its label, and
 * that of a line with bullets under it, prefix the lines under it.
 */
function requirementLines(rst: string): string[] {
  const lines = rst.split('\n');
  const out: string[] = [];
  let section = '';
  let stack: Bullet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const next = lines[i + 1] ?? '';
    if (
      /^\S/.test(line) &&
      !line.startsWith('..') &&
      /^(=+|-+|~+)$/.test(next) &&
      !/^(=+|-+|~+)$/.test(line)
    ) {
      section = line.trim();
      stack = [];
      continue;
    }
    const m = /^(\s*)\* (.*)$/.exec(line);
    if (!m) continue;
    const indent = (m[1] ?? '').length;
    const labelled = /^\*\*(.+?)\*\*:\s*(.*)$/.exec(m[2] ?? '');
    const bullet: Bullet = labelled
      ? { indent, label: inline(labelled[1] ?? ''), value: inline(labelled[2] ?? '') }
      : /^\*\*(.+?)\*\*:?$/.test(m[2] ?? '')
        ? { indent, label: inline(m[2] ?? '').replace(/:$/, ''), value: '' }
        : { indent, label: null, value: inline(m[2] ?? '') };
    stack = stack.filter((b) => b.indent < indent);
    const plain = bullet.label === null && /^([^:`]+):\s*(.+)$/.exec(bullet.value);
    const prefix = [section, ...stack.map((b) => b.label ?? b.value)].join(' › ');
    if (bullet.value !== '') {
      const text =
        bullet.label !== null
          ? `${bullet.label}: ${bullet.value}`
          : plain
            ? `${plain[1]}: ${plain[2]}`
            : bullet.value;
      out.push(`${prefix} › ${text}`);
    }
    stack.push(plain ? { indent, label: plain[1] ?? null, value: plain[2] ?? '' } : bullet);
  }
  return out;
}

/** The rows of spec/README.md's "Every requirement line" table: requirement line → how it is checked. */
function tableRows(readme: string): Map<string, string> {
  const start = readme.indexOf('## Every requirement line');
  expect(start, 'spec/README.md has the section "Every requirement line"').toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + 3);
  const end = rest.search(/^## /m);
  const rows = new Map<string, string>();
  for (const line of (end < 0 ? rest : rest.slice(0, end)).split('\n')) {
    const m = /^\| (.+?) \| (.+) \|$/.exec(line);
    if (!m || m[1] === 'requirement line' || /^-+$/.test(m[1] ?? '')) continue;
    expect(rows.has(m[1] ?? ''), `row ${m[1]} appears once`).toBe(false);
    rows.set(m[1] ?? '', m[2] ?? '');
  }
  return rows;
}

/** Check ids a cell names: after "checked by" / "cluster check", in backticks, joined by commas or "and". */
function idsIn(cell: string): string[] {
  const ids: string[] = [];
  for (const m of cell.matchAll(/(?:checked by|cluster check) ((?:`[^`]+`(?:, | and )?)+)/g)) {
    for (const id of (m[1] ?? '').matchAll(/`([^`]+)`/g)) ids.push(id[1] ?? '');
  }
  return ids;
}

const CELL = /^(checked by `[^`]+`|cluster check `[^`]+`|not checkable by a node agent \(.+\))/;

let spec: Spec;
let clusterIds: Set<string>;
let rows: Map<string, string>;
let lines: string[];
beforeAll(async () => {
  spec = await loadSpec();
  clusterIds = new Set(clusterCheckResults({ reports: [], nodes: [], storageClasses: [] }).map((c) => c.id));
  rows = tableRows(read('spec/README.md'));
  lines = requirementLines(read('spec/requirements.rst'));
});

describe('the requirement-line table (spec/README.md)', () => {
  it('the parser finds every bullet of the document (it cannot pass on an empty parse)', () => {
    expect(lines.length).toBe(45);
    expect(lines).toContain('Control Plane › Minimum requirements › CPU: 12 cores');
    expect(lines).toContain('Registry Access › Required registries › `ghcr.io` (GitHub Container Registry)');
    expect(lines).toContain(
      'Networking Requirements › Internet access: Required for image pulls and access to the osmo service',
    );
  });

  it('lists every requirement line of spec/requirements.rst, and nothing else', () => {
    const missing = lines.filter((l) => !rows.has(l));
    expect(missing, 'requirement lines without a row').toEqual([]);
    const extra = [...rows.keys()].filter((r) => !lines.includes(r));
    expect(extra, 'rows that are no requirement line').toEqual([]);
  });

  it('says for each how it is checked: a node check, a cluster check, or why a node agent cannot', () => {
    for (const [line, how] of rows) expect(how, line).toMatch(CELL);
  });

  it('names only check ids that exist: in the baseline for "checked by", among the cluster checks for "cluster check"', () => {
    const baseline = new Set(spec.checks.map((c) => c.id));
    for (const [line, how] of rows) {
      for (const m of how.matchAll(/checked by ((?:`[^`]+`(?:, | and )?)+)/g)) {
        for (const id of (m[1] ?? '').matchAll(/`([^`]+)`/g))
          expect(baseline.has(id[1] ?? ''), `${line}: ${id[1]}`).toBe(true);
      }
      for (const m of how.matchAll(/cluster check ((?:`[^`]+`(?:, | and )?)+)/g)) {
        for (const id of (m[1] ?? '').matchAll(/`([^`]+)`/g))
          expect(clusterIds.has(id[1] ?? ''), `${line}: ${id[1]}`).toBe(true);
      }
    }
  });

  it('names every check of the built-in baseline and every cluster check', () => {
    const named = new Set([...rows.values()].flatMap(idsIn));
    for (const c of spec.checks) expect(named.has(c.id), `baseline check ${c.id}`).toBe(true);
    for (const id of clusterIds) expect(named.has(id), `cluster check ${id}`).toBe(true);
  });
});
