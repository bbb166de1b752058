// What `check` prints besides the table (render.ts): the JSON document (the NodeResult plus `totals`) and
// JUnit XML for CI systems, one <testcase> per check as kube-bench's --junit does: fail → <failure>,
// error → <error>, skip → <skipped>, warn passes with the warning in <system-out>.
import type { CheckStatus } from '../report/constants.js';
import type { CheckResult, NodeResult } from '../report/schema.js';

export const OUTPUT_FORMATS = ['table', 'json', 'junit'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type CheckTotals = Record<CheckStatus, number>;

/** How many checks ended in each status (every status present, 0 when none). */
export function checkTotals(checks: readonly CheckResult[]): CheckTotals {
  const totals: CheckTotals = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
  for (const c of checks) totals[c.status]++;
  return totals;
}

/** `--output json`: the result with its totals, as one document. */
export function renderJson(result: NodeResult): string {
  return `${JSON.stringify({ ...result, totals: checkTotals(result.checks) }, null, 2)}\n`;
}

/** Text for XML content and attribute values; characters XML 1.0 cannot carry are dropped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

/** The details of a check as lines: observed, expected, message, remediation, source. */
function details(c: CheckResult): string {
  const lines = [
    `observed: ${c.observed ?? '-'}`,
    `expected: ${c.expected ?? '-'}`,
    c.message,
    ...(c.remediation ? [`fix: ${c.remediation}`] : []),
    ...(c.source ? [`source: ${c.source}`] : []),
  ];
  return xmlEscape(lines.join('\n'));
}

function testcase(c: CheckResult, classname: string): string {
  const open = `    <testcase${attrs({ name: c.id, classname, time: 0 })}`;
  const message = attrs({ message: c.message });
  switch (c.status) {
    case 'pass':
      return `${open}/>`;
    case 'warn':
      return `${open}>\n      <system-out>warning: ${details(c)}</system-out>\n    </testcase>`;
    case 'skip':
      return `${open}>\n      <skipped${message}/>\n    </testcase>`;
    case 'fail':
      return `${open}>\n      <failure${message} type="fail">${details(c)}</failure>\n    </testcase>`;
    case 'error':
      return `${open}>\n      <error${message} type="error">${details(c)}</error>\n    </testcase>`;
  }
}

/** `--output junit`: one <testsuite> for the node, its role, verdict and spec as properties. */
export function renderJunit(result: NodeResult): string {
  const t = checkTotals(result.checks);
  const counts = { tests: result.checks.length, failures: t.fail, errors: t.error, skipped: t.skip };
  const classname = `osmo-node-validator.${result.role}`;
  const properties = {
    node: result.node,
    role: result.role,
    roleSource: result.roleSource,
    verdict: result.verdict,
    spec: `${result.spec.name} (revision ${result.spec.revision})`,
    warnings: t.warn,
  };
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'osmo-node-validator', ...counts })}>`,
    `  <testsuite${attrs({ name: `${result.node} (${result.role})`, ...counts, timestamp: result.evaluatedAt })}>`,
    '    <properties>',
    ...Object.entries(properties).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    '    </properties>',
    ...result.checks.map((c) => testcase(c, classname)),
  ];
  if (result.probeErrors.length > 0) {
    const text = result.probeErrors.map((e) => `${e.probe} (${e.kind}): ${e.message}`).join('\n');
    lines.push(`    <system-err>probe errors:\n${xmlEscape(text)}</system-err>`);
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
