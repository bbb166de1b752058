// Bounded soak: 12,000 TCP connections thrown at the agent's health port (127.0.0.1) while the real
// `agent` process, started with the DaemonSet's V8 flags (32 MiB old space), reports once a second to a
// loopback aggregator. The agent must stay alive, keep reporting, stay within a bounded RSS and answer
// /healthz afterwards. Figures are printed and written to test/soak/last-health-flood.json (not committed).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEALTH_MAX_CONNECTIONS } from '../../agent/health-server.js';
import { startServer } from '../agent/servers.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONNECTIONS = 12_000;
/** Connections opened and not yet closed at once (the test process's fds stay well below `ulimit -n`). */
const IN_FLIGHT = 4000;
const V8_FLAGS = ['--lite-mode', '--max-semi-space-size=1', '--max-old-space-size=32'];

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** One connection that sends nothing and waits for the server to close it (or 15 s, then gives up). */
function idle(port: number): Promise<'closed' | 'held'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve('held');
    }, 15_000);
    socket.once('error', () => {});
    socket.once('close', () => {
      clearTimeout(giveUp);
      resolve('closed');
    });
  });
}

async function throwConnections(port: number, onTick: () => void): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < CONNECTIONS) {
      next++;
      const outcome = await idle(port);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (next % 500 === 0) onTick();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return outcomes;
}

describe('agent health port flood (bounded)', () => {
  it(`${CONNECTIONS} idle connections neither crash the agent nor grow it`, async () => {
    const aggregator = await startServer(() => ({ status: 202 }));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        ...V8_FLAGS,
        '--import',
        'tsx',
        'cli/main.ts',
        'agent',
        ...['--aggregator', aggregator.url, '--host-root', fixtureHostPath('bare')],
        ...['--registries', 'none', '--node-name', 'bare', '--interval', '1s', '--heartbeat', '1s'],
        ...['--health-port', String(port), '--log-level', 'warn'],
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_NAME: '' } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let exitCode: number | null | 'running' = 'running';
    child.on('exit', (code) => {
      exitCode = code;
    });
    try {
      for (let i = 0; i < 300 && aggregator.received.length < 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(aggregator.received.length).toBeGreaterThanOrEqual(2);
      const pid = child.pid as number;
      const rssBefore = rssMiB(pid);
      let rssPeak = rssBefore;
      const reportsBefore = aggregator.received.length;
      const started = Date.now();
      const outcomes = await throwConnections(port, () => {
        if (exitCode === 'running') rssPeak = Math.max(rssPeak, rssMiB(pid));
      });
      const durationMs = Date.now() - started;
      expect(exitCode).toBe('running');
      const rssAfter = rssMiB(pid);
      const reportsDuring = aggregator.received.length - reportsBefore;
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      const figures = {
        connections: CONNECTIONS,
        inFlight: IN_FLIGHT,
        maxConnections: HEALTH_MAX_CONNECTIONS,
        outcomes,
        durationMs,
        reportsDuringFlood: reportsDuring,
        rssMiB: { before: rssBefore, peak: rssPeak, after: rssAfter },
        healthzAfter: health.status,
      };
      console.log(JSON.stringify(figures, null, 2));
      writeFileSync(
        new URL('./last-health-flood.json', import.meta.url),
        `${JSON.stringify(figures, null, 2)}\n`,
      );
      expect(health.status).toBe(200);
      expect(outcomes['held'] ?? 0).toBe(0);
      // Reporting once a second went on throughout the flood.
      expect(reportsDuring).toBeGreaterThanOrEqual(Math.floor(durationMs / 1000 / 2));
      // Bounded: well inside the DaemonSet's 128 Mi limit, and no growth with the connections thrown.
      expect(rssPeak).toBeLessThan(128);
      expect(rssAfter - rssBefore).toBeLessThan(24);
    } finally {
      child.kill('SIGTERM');
      await aggregator.close();
      if (exitCode === 'running') await new Promise((r) => child.once('exit', r));
    }
    expect(stderr).not.toMatch(/heap out of memory/);
  });
});
