import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { type RunHooks, run } from '../../aggregator/aggregator-command.js';
import { readAggregatorConfig } from '../../aggregator/config.js';
import { parseListen } from '../../aggregator/options.js';
import { envName } from '../../report/flag-table.js';
import { makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { sampleReport, TOKEN, tokenFile } from './harness.js';

const silentLog = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

/** Polling for a re-read file: bounded. */
const WAIT = { timeout: 5000, interval: 100 };

async function runCaptured(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    env,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    logStream: silentLog(),
  });
  return { code, out, err };
}

describe('aggregator options', () => {
  it('--help prints the options and exits 0', async () => {
    const r = await runCaptured(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--listen',
      '--tls-cert',
      '--insecure-http',
      '--no-auth',
      '--stale-after',
      'OSMO_VALIDATOR_',
    ]) {
      expect(r.out).toContain(flag);
    }
  });

  const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--token-file', '/x'], {}, /--tls-cert FILE --tls-key FILE .*--insecure-http/],
    [['--tls-cert', '/x', '--insecure-http'], {}, /--tls-cert and --tls-key go together/],
    [['--tls-cert', '/a', '--tls-key', '/b', '--insecure-http'], {}, /choose one of/],
    [['--insecure-http'], {}, /needs --token-file FILE .* --no-auth/],
    [['--insecure-http', '--no-auth', '--token-file', '/x'], {}, /contradict/],
    [['--insecure-http', '--no-auth'], {}, /needs --read-token-file FILE .* --read-open/],
    [['--insecure-http', '--no-auth', '--read-open', '--read-token-file', '/x'], {}, /contradict/],
    [
      ['--insecure-http', '--no-auth', '--read-token-file', '/nonexistent/t'],
      {},
      /--read-token-file: .*ENOENT/,
    ],
    [['--insecure-http', '--no-auth', '--stale-after', 'soon'], {}, /--stale-after: invalid duration/],
    [['--insecure-http', '--no-auth', '--stale-after', '1s'], {}, /--stale-after: 1s is out of range/],
    [['--insecure-http', '--no-auth', '--listen', 'localhost'], {}, /--listen: expected HOST:PORT/],
    [
      ['--insecure-http', '--no-auth', '--taint-roles', 'gpu,robots'],
      {},
      /--taint-roles: unknown role "robots"/,
    ],
    [['--insecure-http', '--no-auth', '--max-tainted-percent', '101'], {}, /--max-tainted-percent/],
    [['--insecure-http', '--no-auth', '--agent-service-account', 'just-a-name'], {}, /NAMESPACE\/NAME/],
    [['--insecure-http', '--no-auth', '--log-level', 'loud'], {}, /--log-level/],
    [
      ['--insecure-http', '--no-auth', '--condition-prefix', 'example.com/'],
      {},
      /--condition-prefix: .*must end in "osmo.nvidia.com\/"/,
    ],
    [
      ['--insecure-http', '--no-auth', '--condition-prefix', 'Bad_.osmo.nvidia.com/'],
      {},
      /--condition-prefix: .*DNS subdomain/,
    ],
    [['--insecure-http', '--no-auth', '--frobnicate'], {}, /frobnicate/],
    [['--insecure-http', '--no-auth', '--spec', '/nonexistent/spec.yaml'], {}, /spec\.yaml/],
    [['--insecure-http', '--token-file', '/nonexistent/token'], {}, /--token-file: .*ENOENT/],
    [['--tls-cert', '/nonexistent/c', '--tls-key', '/nonexistent/k', '--no-auth'], {}, /ENOENT/],
    [['--insecure-http', '--no-auth'], { [envName('stale-after')]: 'never' }, /--stale-after/],
    [
      ['--insecure-http', '--no-auth', '--read-open', '--stale-after', '2h', '--forget-after', '1h'],
      {},
      /--forget-after \(1h\) must be longer than --stale-after \(2h\)/,
    ],
    [['--insecure-http', '--no-auth', '--max-nodes', '0'], {}, /--max-nodes: expected an integer from 1/],
    [
      ['--insecure-http'],
      { [envName('no-auth')]: 'perhaps' },
      /OSMO_VALIDATOR_NO_AUTH: expected true or false/,
    ],
  ];
  for (const [argv, env, message] of bad) {
    it(`exits 2 for ${argv.join(' ')} ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`, async () => {
      const r = await runCaptured(argv, env);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/^osmo-node-validator aggregator: /);
    });
  }

  it('reads OSMO_VALIDATOR_* and lets flags win', () => {
    const config = readAggregatorConfig(['--stale-after', '20m'], {
      OSMO_VALIDATOR_STALE_AFTER: '30m',
      OSMO_VALIDATOR_NO_AUTH: 'true',
      OSMO_VALIDATOR_INSECURE_HTTP: '1',
    });
    if (config === 'help') throw new Error('no --help was given');
    expect(config.staleAfterMs).toBe(20 * 60_000);
    expect(config.noAuth).toBe(true);
    expect(config.insecureHttp).toBe(true);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(config.tokenAudience).toBe('osmo-node-validator');
    expect(config.agentServiceAccount).toEqual({
      namespace: 'osmo-node-validator',
      name: 'osmo-node-validator-agent',
    });
    expect(parseListen('[::]:9000')).toEqual({ host: '::', port: 9000 });
    expect(parseListen(':9000')).toEqual({ host: '0.0.0.0', port: 9000 });
  });
});

async function serve(argv: string[], body: (url: string) => Promise<void>, hooks: Partial<RunHooks> = {}) {
  const stop = new AbortController();
  let failure: unknown;
  const code = await run(argv, {
    env: {},
    signal: stop.signal,
    logStream: silentLog(),
    stderr: () => {},
    ...hooks,
    onListening: (url) => {
      body(url).then(
        () => stop.abort(),
        (err: unknown) => {
          failure = err;
          stop.abort();
        },
      );
    },
  });
  if (failure) throw failure;
  return code;
}

describe('aggregator run', () => {
  it('serves standalone with a shared token and stops cleanly (exit 0)', async () => {
    const file = tokenFile();
    const readToken = 'reader-token-0123456789';
    const readFile = tokenFile(readToken);
    const code = await serve(
      ['--insecure-http', '--listen', '127.0.0.1:0', '--token-file', file, '--read-token-file', readFile],
      async (url) => {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
        const res = await fetch(`${url}/api/v1/reports`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify(sampleReport('cli-node')),
        });
        expect(res.status).toBe(202);
        const read = (token: string) =>
          fetch(`${url}/api/v1/nodes/cli-node`, { headers: { authorization: `Bearer ${token}` } });
        // Reads need the read token: not the agents' token, not none.
        expect((await fetch(`${url}/api/v1/nodes/cli-node`)).status).toBe(401);
        expect((await read(TOKEN)).status).toBe(401);
        expect((await fetch(`${url}/metrics`)).status).toBe(401);
        const node = (await (await read(readToken)).json()) as { roleSource: string };
        expect(node.roleSource).toBe('facts');
        expect((await fetch(`${url}/api/v1/reports`, { method: 'POST' })).status).toBe(401);
      },
    );
    expect(code).toBe(0);
  });

  it('with a kubeconfig: TokenReview auth, labels for the role, readiness after sync, dry-run', async () => {
    const emu = await startK8sEmulator();
    try {
      emu.nodes.put(makeNode('gpu-node', { labels: { 'node-type': 'gpu' } }));
      const dir = mkdtempSync(join(tmpdir(), 'onv-cmd-'));
      const kubeconfig = await emu.writeKubeconfigFile(dir);
      const token = emu.tokens.issue({
        serviceAccount: { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' },
        audiences: ['osmo-node-validator'],
        nodeName: 'gpu-node',
      });
      const code = await serve(
        ['--insecure-http', '--listen', '127.0.0.1:0', '--kubeconfig', kubeconfig, '--dry-run'],
        async (url) => {
          let ready = 0;
          for (let i = 0; i < 50 && ready !== 200; i++) {
            ready = (await fetch(`${url}/readyz`)).status;
            if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
          }
          expect(ready).toBe(200);
          const post = (node: string) =>
            fetch(`${url}/api/v1/reports`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify(sampleReport(node)),
            });
          const res = await post('gpu-node');
          expect(res.status).toBe(202);
          expect(((await res.json()) as { role: string }).role).toBe('gpu');
          expect((await post('other-node')).status).toBe(403);
        },
      );
      expect(code).toBe(0);
      expect(emu.writes()).toBe(0);
    } finally {
      await emu.close();
    }
  });
});

describe('aggregator logs', () => {
  const capture = () => {
    let text = '';
    const stream = new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    });
    return { stream, text: () => text };
  };
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

  it('are JSON lines with a string level and an RFC 3339 time, as the agent writes them', async () => {
    const log = capture();
    const code = await serve(
      ['--insecure-http', '--no-auth', '--read-open', '--listen', '127.0.0.1:0'],
      async () => {},
      {
        logStream: log.stream,
      },
    );
    expect(code).toBe(0);
    const lines = log
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['msg'])).toContain('aggregator listening');
    for (const l of lines) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(l['level']);
      expect(String(l['time'])).toMatch(RFC3339);
      expect(Object.keys(l).slice(0, 2)).toEqual(['level', 'time']);
    }
  });

  it('standalone: a new node past --max-nodes is 403, an unusable --token-file 503, each logged once; rejections as one summary', async () => {
    const log = capture();
    const file = tokenFile();
    const argv = ['--insecure-http', '--listen', '127.0.0.1:0', '--read-open'];
    const code = await serve(
      [...argv, '--token-file', file, '--max-nodes', '2'],
      async (url) => {
        const post = (node: string) =>
          fetch(`${url}/api/v1/reports`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify(sampleReport(node)),
          });
        expect((await post('node-a')).status).toBe(202);
        expect((await post('node-b')).status).toBe(202);
        const refused = await post('node-c');
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { message: string }).message).toBe(
          'node "node-c" is new and the aggregator already holds its --max-nodes 2 nodes: raise --max-nodes ' +
            'on the aggregator, or wait until nodes silent for --forget-after (168h) are forgotten; nodes it ' +
            'already holds keep reporting',
        );
        expect((await post('node-a')).status).toBe(202);

        // The token file is re-read at most once a second.
        writeFileSync(file, '');
        await vi.waitFor(async () => expect((await post('node-a')).status).toBe(503), WAIT);
        for (let i = 0; i < 3; i++) expect((await post('node-b')).status).toBe(503);
        writeFileSync(file, `${TOKEN}\n`);
        await vi.waitFor(async () => expect((await post('node-a')).status).toBe(202), WAIT);
      },
      { logStream: log.stream },
    );
    expect(code).toBe(0);
    const lines = log
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; refused?: Record<string, number> });
    const named = (re: RegExp) => lines.filter((l) => re.test(l.msg));
    expect(named(/agent token file is unusable/).map((l) => l.level)).toEqual(['error']);
    expect(named(/agent token file is usable again/).map((l) => l.level)).toEqual(['info']);
    // No line per rejected report at info: one summary (flushed at shutdown), the counts by reason.
    expect(named(/^report rejected$/)).toEqual([]);
    const summaries = named(/^reports rejected \(summary\)$/);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.refused?.['node-limit']).toBe(1);
    expect(summaries[0]?.refused?.['unavailable']).toBeGreaterThanOrEqual(4);
  });

  it('--log-format text prints them for people', async () => {
    const log = capture();
    const argv = [
      '--insecure-http',
      '--no-auth',
      '--read-open',
      '--listen',
      '127.0.0.1:0',
      '--log-format',
      'text',
    ];
    expect(await serve(argv, async () => {}, { logStream: log.stream })).toBe(0);
    const listening = log
      .text()
      .split('\n')
      .find((l) => l.includes('aggregator listening'));
    expect(listening).toMatch(
      /^\S+Z INFO {2}aggregator listening component=aggregator url=http:\/\/127\.0\.0\.1:\d+ /,
    );
    expect(log.text()).not.toContain('{"level"');
  });
});
