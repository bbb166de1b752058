// --registry-timeout reaches the registries probe in both commands (check: also as --timeout), against a
// registry on 127.0.0.1 that accepts connections and never answers.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../agent/agent-command.js';
import { run as runCheck } from '../../agent/check-command.js';
import { memoryLogger } from '../../agent/log.js';
import type { SendResult } from '../../agent/sender.js';
import type { NodeResult, Report } from '../../report/schema.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { captureIo } from '../helpers/io.js';

let silent: net.Server;
const sockets = new Set<net.Socket>();
let registry = '';

beforeAll(async () => {
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  registry = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

const host = () => fixtureHostPath('bare');

describe('check', () => {
  it.each([['--registry-timeout'], ['--timeout']])('%s bounds each registry', async (flag) => {
    const io = captureIo();
    const code = await runCheck(
      ['--host-root', host(), '--registries', registry, flag, '300ms', '--json'],
      io,
    );
    expect(code).toBe(1);
    const result = JSON.parse(io.out()) as NodeResult;
    expect(result.facts.registries?.[0]).toMatchObject({
      reachable: false,
      error: expect.stringMatching(/timeout after 300ms/),
    });
  });

  it('refuses both spellings at once and a bad duration, naming the flag (exit 2)', async () => {
    for (const [args, message] of [
      [['--timeout', '2s', '--registry-timeout', '3s'], 'same option'],
      [['--registry-timeout', '5'], '--registry-timeout: invalid duration'],
      [['--registry-timeout', '1h'], '--registry-timeout: 1h is out of range'],
    ] as const) {
      const io = captureIo();
      expect(await runCheck(['--host-root', host(), ...args], io)).toBe(2);
      expect(io.err()).toContain(message);
    }
  });

  it('--help documents both', async () => {
    const io = captureIo();
    expect(await runCheck(['--help'], io)).toBe(0);
    expect(io.out()).toMatch(
      /--registry-timeout DURATION[\s\S]*--timeout DURATION +per-registry probe timeout/,
    );
  });
});

describe('agent', () => {
  it('--registry-timeout bounds each registry; --timeout stays the request timeout', async () => {
    const sent: Report[] = [];
    const out: string[] = [];
    const code = await runAgent(
      [
        '--aggregator',
        'https://127.0.0.1:1',
        '--once',
        '--host-root',
        host(),
        '--registries',
        registry,
        '--registry-timeout',
        '300ms',
        '--timeout',
        '1s',
      ],
      {
        env: {},
        send: async (report): Promise<SendResult> => {
          sent.push(report);
          return { kind: 'accepted', status: 202 };
        },
        log: memoryLogger(),
        stdout: (t) => out.push(t),
        stderr: (t) => out.push(t),
        handleSignals: false,
      },
    );
    expect(code).toBe(0);
    expect(sent[0]?.facts.registries?.[0]).toMatchObject({
      reachable: false,
      error: expect.stringMatching(/timeout after 300ms/),
    });
  });

  it('--help documents both', async () => {
    const out: string[] = [];
    expect(await runAgent(['--help'], { stdout: (t) => out.push(t) })).toBe(0);
    expect(out.join('')).toMatch(/--timeout DURATION +request timeout for one report/);
    expect(out.join('')).toMatch(
      /--registry-timeout DURATION\s+per-registry probe timeout [\s\S]*?\(default 5s/,
    );
  });
});
