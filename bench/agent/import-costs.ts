// What each import on the agent's path costs in resident memory: a fresh Node process per measurement,
// with the DaemonSet's V8 flags and environment, imports one module (and, for the XML readers, parses a
// real nvidia-smi output 15 times), waits 300 ms and reports its VmRSS. Mean over `runs` processes.
//   tsx bench/agent/import-costs.ts [RUNS]   prints the rows as JSON
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixtureHostPath } from '../../test/helpers/fixture-host.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../test/manifests/expected-args.js';
import { ROOT, spawnChild } from '../lib/proc.js';
import { fmt, mib } from '../lib/stats.js';

const XML = path.join(
  fixtureHostPath('ubuntu2204-gpu-pass'),
  '../../real/nvidia-smi/nvidia-smi-q-x_RTXA5000x2_590.44.01_cuda13.1.xml',
);
const dist = (p: string) => pathToFileURL(path.join(ROOT, 'dist', p)).href;
const PARSES = 15;

interface Subject {
  what: string;
  /** An ES module body run before the measurement. */
  code: string;
}

const parseLoop = (call: string) =>
  `const xml = (await import('node:fs')).readFileSync(${JSON.stringify(XML)}, 'utf8'); for (let i = 0; i < ${PARSES}; i++) ${call};`;

export const SUBJECTS: Subject[] = [
  { what: 'nothing (bare process)', code: '' },
  { what: '`node:http` through `process.getBuiltinModule`', code: "process.getBuiltinModule('node:http');" },
  { what: '`node:http` as an ES module import', code: "await import('node:http');" },
  { what: '`node:https`', code: "await import('node:https');" },
  { what: '`node:tls`', code: "await import('node:tls');" },
  { what: '`node:crypto`', code: "await import('node:crypto');" },
  { what: '`node:child_process`', code: "await import('node:child_process');" },
  { what: '`node:dns/promises`', code: "await import('node:dns/promises');" },
  {
    what: `fast-xml-parser (CommonJS bundle, as the GPU probe loaded it; ${PARSES} parses of a 2-GPU output)`,
    code: `const { XMLParser, XMLValidator } = (await import('node:module')).createRequire(${JSON.stringify(`${ROOT}/`)})('fast-xml-parser'); ${parseLoop("{ XMLValidator.validate(xml); new XMLParser({ parseTagValue: false, ignoreAttributes: false, attributeNamePrefix: '@' }).parse(xml); }")}`,
  },
  {
    what: `\`agent/probes/gpu.js\` with its own XML reader (same ${PARSES} parses)`,
    code: `const { parseNvidiaSmiXml } = await import(${JSON.stringify(dist('agent/probes/gpu.js'))}); ${parseLoop('await parseNvidiaSmiXml(xml)')}`,
  },
  {
    what: '`agent/collect.js` (every probe)',
    code: `await import(${JSON.stringify(dist('agent/collect.js'))});`,
  },
  {
    what: '`agent/agent-command.js` (the `agent` command: probes, sender, health server)',
    code: `await import(${JSON.stringify(dist('agent/agent-command.js'))});`,
  },
];

async function rssOnce(code: string): Promise<number> {
  const body = `${code}\nawait new Promise((r) => setTimeout(r, 300));\nconst m = /VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));\nprocess.stdout.write(m[1]);`;
  const child = spawnChild([...AGENT_NODE_FLAGS, '--input-type=module', '-e', body], {
    env: { ...AGENT_ENV, NODE_OPTIONS: '' },
  });
  const code_ = await child.exited;
  if (code_ !== 0) throw new Error(`import-cost process failed (${code_}): ${child.stderr().slice(-1000)}`);
  return Number(child.stdout().trim());
}

export interface ImportCost {
  what: string;
  rssKiB: number;
  overBareKiB: number;
}

/** Each subject `runs` times, interleaved (so load drifts spread over all of them); means. */
export async function importCosts(runs: number): Promise<ImportCost[]> {
  const sums = SUBJECTS.map(() => 0);
  for (let run = 0; run < runs; run++) {
    for (const [i, subject] of SUBJECTS.entries()) sums[i]! += await rssOnce(subject.code);
  }
  const means = sums.map((s) => s / runs);
  const bare = means[0]!;
  return SUBJECTS.map((s, i) => ({ what: s.what, rssKiB: means[i]!, overBareKiB: means[i]! - bare }));
}

export function importCostRows(costs: ImportCost[]): Array<[string, string]> {
  return costs.map((c) => [
    `import cost: ${c.what}`,
    `${fmt(mib(c.rssKiB))} MiB (${c.overBareKiB >= 0 ? '+' : '−'}${fmt(mib(Math.abs(c.overBareKiB)))} MiB)`,
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const costs = await importCosts(Number(process.argv[2] ?? '3'));
  for (const [k, v] of importCostRows(costs)) process.stdout.write(`${k}: ${v}\n`);
}
