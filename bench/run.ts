// `npm run bench [-- --quick] [-- --only agent|ingest|scale|resync|curves]`: runs the benchmark parts against the built
// CLI, prints a summary and (re)writes BENCHMARKS.md. Not part of `npm test`.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runAgentPart } from './agent/footprint.js';
import { runIngestPart } from './ingest/ingest.js';
import { HAND_WRITTEN_MARKER, handWrittenTail, renderMarkdown } from './lib/markdown.js';
import { ROOT } from './lib/proc.js';
import type { BenchOptions, PartId, PartResult } from './lib/result.js';
import { runCurvesPart } from './scale/curves.js';
import { runResyncPart } from './scale/resync.js';
import { runScalePart } from './scale/scale.js';

const PARTS: Record<PartId, (opts: BenchOptions) => Promise<PartResult>> = {
  agent: runAgentPart,
  ingest: runIngestPart,
  scale: runScalePart,
  resync: runResyncPart,
  curves: runCurvesPart,
};

/**
 * `npm run bench -- --quick` must finish within 2 minutes (issue 16), on the 2-core machine; the parts get
 * 110 s of it, the build before them takes ~10 s.
 */
const QUICK_BUDGET_S = 110;

function isPart(value: string): value is PartId {
  return value in PARTS;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      'no-write': { type: 'boolean', default: false },
      /** Also write the parts' results as JSON here (to splice one part into BENCHMARKS.md by hand). */
      'results-json': { type: 'string' },
    },
  });
  const only = (values.only ?? []).flatMap((v) => v.split(','));
  for (const o of only) {
    if (!isPart(o)) {
      process.stderr.write(`bench: --only ${o}: expected agent, ingest, scale, resync or curves\n`);
      return 2;
    }
  }
  const selected = (Object.keys(PARTS) as PartId[]).filter((p) => only.length === 0 || only.includes(p));
  const quick = values.quick === true;
  const opts: BenchOptions = {
    quick,
    reps: quick ? 1 : 3,
    log: (line) => process.stdout.write(`${line}\n`),
  };
  const loadBefore = os.loadavg();
  const started = performance.now();
  const results: PartResult[] = [];
  for (const id of selected) {
    const t0 = performance.now();
    results.push(await PARTS[id](opts));
    opts.log(`${id}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const totalS = (performance.now() - started) / 1000;

  opts.log('\nSummary');
  for (const part of results) {
    opts.log(`\n${part.title}`);
    for (const [k, v] of part.rows) opts.log(`  ${k}: ${v}`);
    for (const table of part.tables ?? []) {
      opts.log(`  ${table.title}: ${table.header.slice(1).join(' | ')}`);
      for (const row of table.rows) opts.log(`    ${row.join(' | ')}`);
    }
    for (const note of part.notes) opts.log(`  - ${note}`);
    for (const t of part.targets) {
      opts.log(`  [${t.met ? 'met' : 'MISSED'}] ${t.what}: ${t.measured} (target ${t.target})`);
    }
  }

  const cpus = os.cpus();
  const markdown = renderMarkdown({
    parts: results,
    quick,
    reps: opts.reps,
    command: `npm run bench${quick ? ' -- --quick' : ''}${only.length > 0 ? ` -- --only ${only.join(',')}` : ''}`,
    totalS,
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: os.totalmem() / 2 ** 30,
      node: process.version,
      date: new Date().toISOString(),
      loadBefore,
      loadAfter: os.loadavg(),
    },
  });
  if (values['results-json']) await writeFile(values['results-json'], JSON.stringify(results, null, 2));
  if (values['no-write'] !== true) {
    const file = path.join(ROOT, 'BENCHMARKS.md');
    const kept = handWrittenTail(await readFile(file, 'utf8').catch(() => ''));
    await writeFile(
      file,
      kept === '' ? markdown : `${markdown.trimEnd()}\n\n${HAND_WRITTEN_MARKER}\n${kept}`,
    );
    opts.log('\nwrote BENCHMARKS.md');
  }
  opts.log(`total ${totalS.toFixed(1)} s`);
  if (quick && only.length === 0 && totalS > QUICK_BUDGET_S) {
    opts.log(
      `bench: --quick took ${totalS.toFixed(0)} s, over its ${QUICK_BUDGET_S} s budget (2 minutes with the build, issue 16): trim the quick-mode sizes of the slowest part above`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
