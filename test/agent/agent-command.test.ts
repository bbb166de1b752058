import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentDeps, parseAgentArgs, runAgent } from '../../agent/agent-command.js';
import { memoryLogger } from '../../agent/log.js';
import type { Reporter } from '../../agent/reporter.js';
import type { Report } from '../../report/schema.js';
import { packageVersion } from '../../report/version.js';
import { generateTestPki } from '../helpers/certs.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { sampleFacts } from './sample.js';
import { startServer, type TestServer } from './servers.js';

let dir: string;
const servers: TestServer[] = [];
const serve = async (...args: Parameters<typeof startServer>) => {
  const s = await startServer(...args);
  servers.push(s);
  return s;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'agent-cmd-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function deps(overrides: Partial<AgentDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const d: AgentDeps = {
    env: {},
    collect: async () => ({ facts: sampleFacts({ hostname: 'Fixture-Host' }), probeErrors: [] }),
    hostname: async () => 'Fixture-Host',
    osHostname: () => 'os-hostname',
    log: memoryLogger(),
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    handleSignals: false,
    ...overrides,
  };
  return { d, out, err };
}

describe('argument parsing', () => {
  it('requires --aggregator unless OSMO_VALIDATOR_AGGREGATOR is set', async () => {
    const { d, err } = deps();
    expect(await runAgent(['--once'], d)).toBe(2);
    expect(err.join('')).toMatch(/--aggregator URL is required/);
    const config = parseAgentArgs([], { OSMO_VALIDATOR_AGGREGATOR: 'https://agg:8443' });
    expect(config).toMatchObject({
      intervalMs: 60_000,
      heartbeatMs: 300_000,
      execMode: 'local',
      once: false,
    });
  });

  it.each([
    [['--interval', '5'], /--interval: invalid duration "5"/],
    [['--heartbeat', 'soon'], /--heartbeat: invalid duration/],
    [['--interval', '10ms'], /--interval: 10ms is out of range/],
    [['--exec-mode', 'docker'], /--exec-mode/],
    [['--registries', 'https://x'], /--registries/],
    [['--host-root', '/definitely/not/here'], /--host-root: .* does not exist/],
    [['--node-name', 'Bad_Name'], /--node-name: "Bad_Name" is not a valid node name/],
    [['--node-name', ''], /--node-name: empty/],
    [['--registry-timeout', '10'], /--registry-timeout: invalid duration/],
    [['--registry-timeout', '1h'], /--registry-timeout: 1h is out of range/],
    [['--bogus'], /bogus/],
    [['--aggregator', 'http://10.1.2.3:8080'], /refusing plain http/],
  ])('%j exits 2 with a message', async (args, message) => {
    const { d, err } = deps();
    expect(await runAgent(['--aggregator', 'https://127.0.0.1:1', '--once', ...args], d)).toBe(2);
    expect(err.join('')).toMatch(message);
  });

  it('prints help', async () => {
    const { d, out } = deps();
    expect(await runAgent(['--help'], d)).toBe(0);
    expect(out.join('')).toMatch(/--token-file FILE/);
  });

  it('parses registries, none, and the health listener', () => {
    const c = parseAgentArgs(
      ['--aggregator', 'https://a', '--registries', 'none', '--health-port', '8081', '--allow-insecure-http'],
      {},
    );
    expect(c).toMatchObject({ registries: null, health: { host: '127.0.0.1', port: 8081 } });
    const d = parseAgentArgs(['--aggregator', 'http://agg.svc:80', '--allow-insecure-http'], {});
    expect(d).toMatchObject({ registries: ['nvcr.io', 'ghcr.io', 'docker.io'], health: null });
    // The aggregator's --insecure-http is not a synonym here: the agent has one name for it.
    expect(() => parseAgentArgs(['--aggregator', 'http://agg.svc:80', '--insecure-http'], {})).toThrow(
      /Unknown option '--insecure-http'/,
    );
  });
});

describe('node name precedence', () => {
  it.each([
    [[], {}, 'fixture-host'],
    [[], { NODE_NAME: 'Env-Node' }, 'env-node'],
    [['--node-name', 'flag-node'], { NODE_NAME: 'env-node' }, 'flag-node'],
  ])('reports as the right node (%j, %j)', async (args, env, expected) => {
    const server = await serve(() => ({ status: 202 }));
    const { d } = deps({ env });
    expect(await runAgent(['--aggregator', server.url, '--once', ...args], d)).toBe(0);
    expect((JSON.parse(server.received[0]!.body) as Report).node).toBe(expected);
  });

  it("the host's hostname under --host-root, read once at start; never this machine's for another root", async () => {
    const server = await serve(() => ({ status: 202 }));
    const { d } = deps({ hostname: undefined });
    const args = ['--aggregator', server.url, '--once', '--host-root', fixtureHostPath('bare')];
    expect(await runAgent(args, d)).toBe(0);
    expect((JSON.parse(server.received[0]!.body) as Report).node).toBe('bare-01');

    const empty = await mkdtemp(path.join(dir, 'root-'));
    const b = deps({ hostname: undefined });
    expect(await runAgent(['--aggregator', server.url, '--once', '--host-root', empty], b.d)).toBe(2);
    expect(b.err.join('')).toMatch(/cannot tell the node name: no hostname found under .*root-/);
    expect(server.received).toHaveLength(1);
  });

  it.each([
    [
      { hostname: async () => 'bad_name' },
      /the host's hostname \(read under \/\): "bad_name" is not a valid/,
    ],
    [{ hostname: async () => null, osHostname: () => 'My_Laptop' }, /this machine's hostname .*"My_Laptop"/],
    [
      {
        hostname: async () => {
          throw new Error('cannot read etc/hostname');
        },
        osHostname: () => '',
      },
      /cannot tell the node name: .*\(cannot read etc\/hostname\)/,
    ],
  ] as Array<[Partial<AgentDeps>, RegExp]>)(
    'an invalid or missing host name exits 2 at start (%#)',
    async (o, message) => {
      let collected = false;
      const { d, err } = deps({
        ...o,
        collect: async () => {
          collected = true;
          return { facts: sampleFacts(), probeErrors: [] };
        },
      });
      // Long-running mode too: the loop never starts.
      expect(await runAgent(['--aggregator', 'https://127.0.0.1:1'], d)).toBe(2);
      expect(err.join('')).toMatch(message);
      expect(collected).toBe(false);
    },
  );
});

describe('--once', () => {
  it('exits 0 when the report is accepted over HTTPS with the token and CA files', async () => {
    const pki = await generateTestPki();
    const server = await serve(() => ({ status: 202, body: '{}' }), pki.server);
    const caFile = path.join(dir, 'ca.pem');
    const tokenFile = path.join(dir, 'token');
    await writeFile(caFile, pki.ca.cert);
    await writeFile(tokenFile, 'sa-token\n');
    const { d, out } = deps();
    const code = await runAgent(
      [
        '--aggregator',
        server.url,
        '--once',
        '--ca-file',
        caFile,
        '--token-file',
        tokenFile,
        '--node-name',
        'n1',
      ],
      d,
    );
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/report for node n1 accepted .*HTTP 202/);
    const received = server.received[0]!;
    expect(received.headers.authorization).toBe('Bearer sa-token');
    const report = JSON.parse(received.body) as Report;
    expect(report).toMatchObject({
      schemaVersion: 1,
      node: 'n1',
      agentVersion: packageVersion(),
      probeErrors: [],
    });
    expect(new Date(report.collectedAt).toISOString()).toBe(report.collectedAt);
  });

  it('exits 1 when rejected, printing the server message', async () => {
    const server = await serve(() => ({ status: 400, body: '{"message":"body/facts must be object"}' }));
    const { d, err } = deps();
    expect(await runAgent(['--aggregator', server.url, '--once'], d)).toBe(1);
    expect(err.join('')).toMatch(/rejected: HTTP 400: body\/facts must be object/);
  });

  it('exits 3 when the aggregator is unavailable (5xx or refused)', async () => {
    const server = await serve(() => ({ status: 503, body: '{"message":"starting"}' }));
    const a = deps();
    expect(await runAgent(['--aggregator', server.url, '--once'], a.d)).toBe(3);
    expect(a.err.join('')).toMatch(/could not deliver .*HTTP 503: starting/);
    const url = server.url;
    await server.close();
    const b = deps();
    expect(await runAgent(['--aggregator', url, '--once'], b.d)).toBe(3);
    expect(b.err.join('')).toMatch(/ECONNREFUSED/);
  });

  it('exits 2 when the token file is missing', async () => {
    const server = await serve(() => ({ status: 202 }));
    const { d, err } = deps();
    expect(
      await runAgent(['--aggregator', server.url, '--once', '--token-file', path.join(dir, 'none')], d),
    ).toBe(2);
    expect(err.join('')).toMatch(/cannot read token file/);
    expect(server.received).toHaveLength(0);
  });
});

describe('long-running mode', () => {
  it('serves /healthz, reports, and stops cleanly when told to', async () => {
    const server = await serve(() => ({ status: 202 }));
    const stop = new AbortController();
    let started: { reporter: Reporter; health: { host: string; port: number } | null } | null = null;
    const { d } = deps({ stop: stop.signal, onStarted: (s) => (started = s) });
    const running = runAgent(
      ['--aggregator', server.url, '--health-port', '0', '--health-host', '127.0.0.1', '--interval', '1h'],
      d,
    );
    // Bounded wait for the first report (real timers: the first probe runs at once).
    for (let i = 0; i < 200 && server.received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.received).toHaveLength(1);
    const health = (started as { health: { port: number } | null } | null)?.health;
    expect(health).not.toBeNull();
    const res = await fetch(`http://127.0.0.1:${health!.port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', delivery: 'ok', pending: false });
    expect((await fetch(`http://127.0.0.1:${health!.port}/other`)).status).toBe(404);
    stop.abort();
    expect(await running).toBe(0);
  });
});
