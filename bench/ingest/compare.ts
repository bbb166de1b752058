// Side by side: the same ingest configuration served by two builds (e.g. before and after a change) and
// the bare fastify route, interleaved (A B bare, then the reverse order) under the same load, each server
// pinned to CPU 0 and autocannon to CPU 1. Prints throughput and server CPU per request, medians over the
// repetitions — what "What each change bought" in BENCHMARKS.md is measured with.
//   npx tsx bench/ingest/compare.ts --before /path/to/other/dist/cli/main.js [--config shared] [--reps 3]
//   npx tsx bench/ingest/compare.ts --before-node-flags=--no-allocation-site-pretenuring (this build, other flags)
import { parseArgs } from 'node:util';
import { cpuOf } from '../lib/proc.js';
import { runLoad, type ServerChild } from '../lib/servers.js';
import { median } from '../lib/stats.js';
import { type ConfigId, loadJob, prepareIngest, settled, startServer } from './setup.js';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    /** NODE_OPTIONS for the before side instead of the Deployment's (same build: compare V8 flags). */
    'before-node-options': { type: 'string' },
    /** The before side's command-line V8 flags instead of the Deployment's (same build: compare them). */
    'before-node-flags': { type: 'string' },
    config: { type: 'string', default: 'shared' },
    reps: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    nodes: { type: 'string', default: '5000' },
  },
});
if (
  !values.before &&
  values['before-node-options'] === undefined &&
  values['before-node-flags'] === undefined
) {
  throw new Error(
    '--before: the other build, e.g. /tmp/base/dist/cli/main.js, or --before-node-options / --before-node-flags',
  );
}
const config = values.config as Exclude<ConfigId, 'bare'>;
const setup = await prepareIngest(Number(values.nodes));
const sides: Array<{ name: string; id: ConfigId; server: ServerChild }> = [];
try {
  sides.push({
    name: 'before',
    id: config,
    server: await startServer(config, setup, {
      cpus: '0',
      ...(values.before ? { cli: values.before } : {}),
      ...(values['before-node-options'] ? { env: { NODE_OPTIONS: values['before-node-options'] } } : {}),
      ...(values['before-node-flags'] !== undefined
        ? { aggregatorFlags: values['before-node-flags'].split(' ').filter(Boolean) }
        : {}),
    }),
  });
  sides.push({ name: 'after', id: config, server: await startServer(config, setup, { cpus: '0' }) });
  sides.push({ name: 'bare', id: 'bare', server: await startServer('bare', setup, { cpus: '0' }) });
  const run = async (side: (typeof sides)[number], extra: { amount?: number; durationS: number }) => {
    const before = cpuOf(side.server.child.pid);
    const load = await runLoad(
      setup.dir,
      loadJob(side.id, side.server.url, setup, { connections: 10, ...extra }),
      {
        cpus: '1',
      },
    );
    const after = cpuOf(side.server.child.pid);
    const cpuUs =
      before && after ? ((after.selfS - before.selfS) * 1e6) / (load.ok + load.non2xx) : Number.NaN;
    return { rps: load.rps, cpuUs, bad: load.non2xx + load.errors };
  };
  for (const side of sides) await run(side, { amount: setup.n, durationS: 60 });
  if (config === 'serviceaccount') {
    for (const side of sides.slice(0, 2)) {
      setup.emu.reset();
      await settled(setup, side.server);
    }
  }
  for (const side of sides) await run(side, { amount: setup.n, durationS: 60 });
  const results = new Map(
    sides.map((s) => [s.name, [] as Array<{ rps: number; cpuUs: number; bad: number }>]),
  );
  for (let r = 0; r < Number(values.reps); r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order)
      results.get(side.name)?.push(await run(side, { durationS: Number(values.seconds) }));
  }
  const bare = results.get('bare') ?? [];
  for (const [name, rs] of results) {
    const ratio = median(rs.map((x, i) => x.rps / (bare[i]?.rps ?? Number.NaN)));
    console.log(
      `${config} ${name}: ${median(rs.map((x) => x.rps)).toFixed(0)} req/s (${rs.map((x) => x.rps.toFixed(0)).join(', ')}), ` +
        `CPU ${median(rs.map((x) => x.cpuUs)).toFixed(0)} µs/req (${rs.map((x) => x.cpuUs.toFixed(0)).join(', ')}), ` +
        `vs bare ${ratio.toFixed(2)}×, failures ${rs.reduce((s, x) => s + x.bad, 0)}`,
    );
  }
} finally {
  for (const s of sides) await s.server.stop();
  await setup.close();
}
