// SIGINT/SIGTERM (or the agent's stop) kills host commands still running instead of leaving them to their
// own timeouts or, worse, behind the exiting process: the fixture's nvidia-smi hangs for 10 minutes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { runAgent } from '../../agent/agent-command.js';
import { memoryLogger } from '../../agent/log.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { groupAlive, hungGroupsOf, killGroups, waitUntil } from './host-groups.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const started: number[] = [];
afterEach(() => {
  killGroups(started.splice(0));
});

it('agent: stopping kills the probe commands still running', async () => {
  const stop = new AbortController();
  const log = memoryLogger();
  const running = runAgent(
    [
      '--aggregator',
      'https://127.0.0.1:1',
      '--host-root',
      fixtureHostPath('gpu-nvidia-smi-hangs'),
      '--registries',
      'none',
      '--node-name',
      'n1',
    ],
    {
      env: {},
      log,
      stop: stop.signal,
      handleSignals: false,
      send: async () => ({ kind: 'accepted', status: 202 }),
    },
  );
  expect(await waitUntil(() => hungGroupsOf(process.pid).length > 0, 5000)).toBe(true);
  const groups = hungGroupsOf(process.pid);
  started.push(...groups);
  stop.abort();
  expect(await running).toBe(0);
  // Well before the probe's own 10 s timeout.
  expect(await waitUntil(() => groups.every((g) => !groupAlive(g)), 1000)).toBe(true);
  expect(log.lines.map((l) => l.msg)).toContain('killed host commands still running');
});

it('check: SIGINT kills the host commands and exits 130', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'check',
      '--host-root',
      fixtureHostPath('gpu-nvidia-smi-hangs'),
      '--registries',
      'none',
      '--node-name',
      'n1',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    expect(await waitUntil(() => hungGroupsOf(child.pid ?? -1).length > 0, 8000)).toBe(true);
    const groups = hungGroupsOf(child.pid ?? -1);
    started.push(...groups);
    child.kill('SIGINT');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
    expect(await Promise.race([exited, timeout])).toBe(130);
    expect(stderr).toContain('interrupted (SIGINT)');
    expect(await waitUntil(() => groups.every((g) => !groupAlive(g)), 1000)).toBe(true);
  } finally {
    child.kill('SIGKILL');
  }
});
