// The real process: `osmo-node-validator aggregator` (TLS, standalone, 127.0.0.1) gets SIGTERM while four
// clients hold connections — headers trickled a byte per 100 ms, a half-finished TLS handshake, an idle
// keep-alive connection, and a request whose body trickles in — and exits 0 within --shutdown-timeout.
// The limits' own deadlines are a minute here, so only the shutdown can close them in time.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { generateTestPki } from '../helpers/certs.js';
import { TOKEN } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHUTDOWN_TIMEOUT_MS = 2000;

let child: ChildProcess | null = null;
let dir: string | null = null;
const sockets: net.Socket[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.destroy();
  if (child?.exitCode === null) child.kill('SIGKILL');
  child = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function startAggregator(): Promise<{ port: number; stderr: () => string }> {
  dir = mkdtempSync(join(tmpdir(), 'onv-sigterm-'));
  const { server } = await generateTestPki({ dnsNames: ['localhost'] });
  const file = (name: string, text: string) => {
    const path = join(dir as string, name);
    writeFileSync(path, text);
    return path;
  };
  const minute = '1m';
  const args = [
    ...['aggregator', '--listen', '127.0.0.1:0', '--read-open'],
    ...['--tls-cert', file('tls.crt', server.cert), '--tls-key', file('tls.key', server.key)],
    ...['--token-file', file('token', `${TOKEN}\n`)],
    ...['--handshake-timeout', minute, '--headers-timeout', minute, '--keep-alive-timeout', minute],
    ...['--shutdown-timeout', `${SHUTDOWN_TIMEOUT_MS / 1000}s`],
  ];
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, KUBECONFIG: '' },
  });
  child = proc;
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  for (let i = 0; i < 300 && !/aggregator listening/.test(stderr); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /"url":"https:\/\/127\.0\.0\.1:(\d+)"/.exec(stderr);
  expect(url, stderr).not.toBeNull();
  return { port: Number(url?.[1]), stderr: () => stderr };
}

async function tlsClient(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((r) => socket.once('secureConnect', r));
  return socket;
}

/** Writes `text` and then a byte of `more` per 100 ms. */
function trickle(socket: net.Socket, text: string, more: string): void {
  socket.write(text);
  let i = 0;
  timers.push(setInterval(() => socket.destroyed || socket.write(more[i++ % more.length] ?? ' '), 100));
}

async function holdConnections(port: number): Promise<void> {
  trickle(await tlsClient(port), 'POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\nx-slow: ', 'abc');
  const half = net.connect(port, '127.0.0.1');
  sockets.push(half);
  half.on('error', () => {});
  await new Promise((r) => half.once('connect', r));
  half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])); // a ClientHello's start
  const idle = await tlsClient(port);
  idle.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n');
  await new Promise((r) => idle.once('data', r));
  const body =
    `POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${TOKEN}\r\n` +
    'content-type: application/json\r\ncontent-length: 100000\r\n\r\n{';
  trickle(await tlsClient(port), body, ' ');
  await new Promise((r) => setTimeout(r, 300));
}

it('exits 0 within --shutdown-timeout on SIGTERM, whatever slow clients hold', async () => {
  const { port, stderr } = await startAggregator();
  await holdConnections(port);
  const proc = child as ChildProcess;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = Date.now();
  proc.kill('SIGTERM');
  const code = await Promise.race([
    exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SHUTDOWN_TIMEOUT_MS + 8000)),
  ]);
  const exitMs = Date.now() - started;
  console.log(`aggregator exit after SIGTERM: ${exitMs} ms (--shutdown-timeout ${SHUTDOWN_TIMEOUT_MS} ms)`);
  expect(code).toBe(0);
  // The deadline, plus the process's own teardown (well under a second here).
  expect(exitMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS - 100);
  expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1500);
  const closed = stderr()
    .split('\n')
    .filter((l) => l.includes('"connections closed"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(closed).toHaveLength(1);
  expect(closed[0]).toMatchObject({ closedIdle: 3, destroyedAtDeadline: 1 });
});
