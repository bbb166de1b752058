// The real process: `osmo-node-validator agent` stops on SIGTERM with a send in flight and exits 0.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { startServer, type TestServer } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
});

it('exits 0 on SIGTERM, aborting the in-flight send', async () => {
  server = await startServer(() => 'hang');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'agent',
      '--aggregator',
      server.url,
      '--host-root',
      fixtureHostPath('bare'),
      '--registries',
      'none',
      '--node-name',
      'bare',
      '--interval',
      '1h',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const live = server;
  // Bounded wait for the agent's first report to arrive (and hang).
  for (let i = 0; i < 500 && live.received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(live.received).toHaveLength(1);
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 8000).unref());
  const code = await Promise.race([exited, timeout]);
  if (code === 'timeout') child.kill('SIGKILL');
  expect(code).toBe(0);
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping (SIGTERM)', 'stopped']));
  expect(
    lines.every((l) => typeof l.time === 'string' && ['debug', 'info', 'warn', 'error'].includes(l.level)),
  ).toBe(true);
});

it('exits on SIGTERM at once while clients trickle headers into, or idle on, the health port', async () => {
  server = await startServer(() => ({ status: 202 }));
  const child = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', 'cli/main.ts', 'agent', '--aggregator', server.url],
      ...['--host-root', fixtureHostPath('bare'), '--registries', 'none', '--node-name', 'bare'],
      ...['--interval', '1h', '--health-port', '0'],
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const live = server;
  for (let i = 0; i < 500 && live.received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const port = Number(/"msg":"health endpoint listening".*"port":(\d+)/.exec(stderr)?.[1]);
  expect(port).toBeGreaterThan(0);
  const sockets = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
  const trickle = setInterval(() => sockets[0]?.write('G'), 100);
  try {
    for (const s of sockets) {
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 8000).unref());
    const code = await Promise.race([exited, timeout]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(0);
    // Well before the health server's own 2-3 s deadlines would have closed them.
    expect(Date.now() - started).toBeLessThan(1500);
  } finally {
    clearInterval(trickle);
    for (const s of sockets) s.destroy();
  }
});
