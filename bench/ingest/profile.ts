// Profiles the ingest servers: each configuration's server under V8's CPU profiler (through the inspector,
// over the timed run only), pinned to CPU 0, autocannon
// pinned to CPU 1; a warm-up round over every node, then a timed run; prints the server's CPU time per
// request and its self time by area and by function. For deciding what to cut, not for BENCHMARKS.md.
//   npx tsx bench/ingest/profile.ts [--config bare|serviceaccount|shared]... [--seconds 8] [--nodes 5000]
// (npm run -s build first: the aggregator runs from dist/.)
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { cpuOf, freePort, httpGet } from '../lib/proc.js';
import { runLoad } from '../lib/servers.js';
import { type ProfileRow, summarise } from './cpu-profile.js';
import { connectProfiler } from './inspector-profiler.js';
import { CONFIGS, type ConfigId, LABEL, loadJob, prepareIngest, settled, startServer } from './setup.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '8' },
    nodes: { type: 'string', default: '5000' },
    top: { type: 'string', default: '30' },
    save: { type: 'string' },
  },
});
const ids = (values.config ?? ['serviceaccount', 'shared', 'bare']) as ConfigId[];
for (const id of ids)
  if (!CONFIGS.includes(id)) throw new Error(`--config ${id}: expected ${CONFIGS.join(', ')}`);
const seconds = Number(values.seconds);
const setup = await prepareIngest(Number(values.nodes));
const print = (rows: ProfileRow[], requests: number) => {
  for (const r of rows)
    console.log(
      `  ${(r.share * 100).toFixed(1).padStart(5)} %  ${((r.ms * 1000) / requests).toFixed(1).padStart(6)} µs/req  ${r.what}`,
    );
};
try {
  for (const id of ids) {
    const port = await freePort();
    const server = await startServer(id, setup, { nodeFlags: [`--inspect=127.0.0.1:${port}`], cpus: '0' });
    const profiler = await connectProfiler(port);
    const base = { connections: 10, durationS: seconds };
    await runLoad(setup.dir, loadJob(id, server.url, setup, { ...base, amount: setup.n, durationS: 60 }), {
      cpus: '1',
    });
    if (id === 'serviceaccount') await settled(setup, server);
    await runLoad(setup.dir, loadJob(id, server.url, setup, { ...base, amount: setup.n, durationS: 60 }), {
      cpus: '1',
    });
    setup.emu.reset();
    await profiler.start();
    const before = cpuOf(server.child.pid);
    const load = await runLoad(setup.dir, loadJob(id, server.url, setup, base), { cpus: '1' });
    const after = cpuOf(server.child.pid);
    const metrics = (await httpGet(`${server.url}/metrics`)).body;
    const heap = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20;
    console.log(
      ` heap used / total after the run: ${heap('nodejs_heap_size_used_bytes').toFixed(0)} / ${heap('nodejs_heap_size_total_bytes').toFixed(0)} MiB`,
    );
    const profile = await profiler.stop();
    profiler.close();
    await server.stop();
    const cpuS = after && before ? after.selfS - before.selfS : Number.NaN;
    const answered = load.ok + load.non2xx;
    console.log(
      `\n${LABEL[id]}: ${load.rps.toFixed(0)} req/s, non-2xx ${load.non2xx}, errors ${load.errors}; server CPU ${((cpuS * 1e6) / answered).toFixed(0)} µs per request`,
    );
    const api = setup.emu.requests;
    const byPath = new Map<string, number>();
    for (const r of api)
      byPath.set(
        `${r.method} ${r.path.replace(/bench-node-\d+/, 'NODE')}`,
        (byPath.get(`${r.method} ${r.path.replace(/bench-node-\d+/, 'NODE')}`) ?? 0) + 1,
      );
    console.log(` API requests during the run: ${JSON.stringify([...byPath])}`);
    if (values.save) await writeFile(`${values.save}-${id}.cpuprofile`, JSON.stringify(profile));
    const { byArea, byFunction } = summarise(profile, Number(values.top));
    console.log(' by area:');
    print(byArea, answered);
    console.log(' by function:');
    print(byFunction, answered);
  }
} finally {
  await setup.close();
}
