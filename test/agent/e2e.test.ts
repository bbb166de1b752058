// End to end, in process: agents probing fixture hosts → the aggregator over HTTPS on 127.0.0.1 with a
// throwaway CA and a shared token → the REST API shows each node's verdict. Then the aggregator restarts
// and a running agent delivers again.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentConfig, runAgent } from '../../agent/agent-command.js';
import { collectFacts } from '../../agent/collect.js';
import { createHostContext } from '../../agent/host.js';
import { memoryLogger } from '../../agent/log.js';
import { createReporter } from '../../agent/reporter.js';
import { createSender } from '../../agent/sender.js';
import { OpenReads } from '../../aggregator/auth/read-access.js';
import { SharedTokenAuthenticator } from '../../aggregator/auth/shared-token.js';
import { type AggregatorServer, buildApp } from '../../aggregator/server/app.js';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { NodeStore } from '../../aggregator/store.js';
import type { Report } from '../../report/schema.js';
import { loadSpec } from '../../spec/load.js';
import { generateTestPki, type TestPki } from '../helpers/certs.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { sampleReport } from './sample.js';

const reportOf = (node: string): Report => ({ ...sampleReport(), node });

const TOKEN = 'e2e-shared-token-0123456789';

let dir: string;
let pki: TestPki;
let caFile: string;
let tokenFile: string;

interface Aggregator {
  server: AggregatorServer;
  store: NodeStore;
  url: string;
  port: number;
  close(): Promise<void>;
}

async function startAggregator(
  port = 0,
  options: { maxNodes?: number; file?: string; retryAfterSeconds?: number } = {},
): Promise<Aggregator> {
  const store = new NodeStore({ staleAfterMs: 15 * 60_000, maxNodes: options.maxNodes });
  const server = await buildApp({
    evaluator: createSpecEvaluator(await loadSpec()),
    authenticator: new SharedTokenAuthenticator({
      file: options.file ?? tokenFile,
      recheckMs: 0,
      ...(options.retryAfterSeconds !== undefined ? { retryAfterSeconds: options.retryAfterSeconds } : {}),
    }),
    readAccess: new OpenReads(),
    store,
    tls: pki.server,
  });
  await server.app.listen({ host: '127.0.0.1', port });
  const bound = (server.app.server.address() as AddressInfo).port;
  return { server, store, url: `https://127.0.0.1:${bound}`, port: bound, close: () => server.app.close() };
}

/** The agent's collector on a fixture host: its own commands only, never this machine's PATH. */
const fixtureCollect = (config: AgentConfig) =>
  collectFacts(createHostContext({ root: config.hostRoot, execMode: config.execMode, path: '' }), {
    registries: config.registries,
    registryTimeoutMs: 1000,
  });

async function getJson(url: string): Promise<unknown> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: pki.ca.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls a condition every 20 ms, at most 6 s. */
async function waitFor(what: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(what()).toBe(true);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'agent-e2e-'));
  pki = await generateTestPki();
  caFile = path.join(dir, 'ca.crt');
  tokenFile = path.join(dir, 'token');
  await writeFile(caFile, pki.ca.cert);
  await writeFile(tokenFile, `${TOKEN}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agents → aggregator over HTTPS', () => {
  it('three agents on fixture hosts report; GET /api/v1/nodes shows their verdicts', async () => {
    const agg = await startAggregator();
    try {
      const hosts = ['ubuntu2204-gpu-pass', 'gpu-old-driver', 'jetson-jp62'] as const;
      const codes = await Promise.all(
        hosts.map((host) =>
          runAgent(
            [
              '--aggregator',
              agg.url,
              '--once',
              '--ca-file',
              caFile,
              '--token-file',
              tokenFile,
              '--host-root',
              fixtureHostPath(host),
              '--registries',
              'none',
              '--node-name',
              host,
            ],
            {
              env: {},
              collect: fixtureCollect,
              log: memoryLogger(),
              stdout: () => {},
              stderr: () => {},
              handleSignals: false,
            },
          ),
        ),
      );
      expect(codes).toEqual([0, 0, 0]);
      const list = (await getJson(`${agg.url}/api/v1/nodes`)) as {
        nodes: Array<{
          name: string;
          role: string;
          verdict: string;
          failingChecks: string[];
          stale: boolean;
        }>;
        total: number;
      };
      expect(list.total).toBe(3);
      const byName = new Map(list.nodes.map((n) => [n.name, n]));
      // An old driver fails the GPU checks; the others pass every check (a warning, e.g. DNS of the
      // fixture's host name on this machine, does not make them fail).
      expect(byName.get('gpu-old-driver')).toMatchObject({ role: 'gpu', verdict: 'fail', stale: false });
      expect(byName.get('gpu-old-driver')?.failingChecks).toContain('gpu.driver');
      expect(byName.get('ubuntu2204-gpu-pass')).toMatchObject({
        role: 'gpu',
        failingChecks: [],
        stale: false,
      });
      expect(byName.get('ubuntu2204-gpu-pass')?.verdict).not.toBe('fail');
      expect(byName.get('jetson-jp62')).toMatchObject({ role: 'jetson', failingChecks: [], stale: false });
      expect(byName.get('jetson-jp62')?.verdict).not.toBe('fail');

      const detail = (await getJson(`${agg.url}/api/v1/nodes/gpu-old-driver`)) as {
        facts: Report['facts'];
        checks: Array<{ id: string; status: string }>;
      };
      expect(detail.facts.gpu?.driverVersion).toBe('535.54.03');
      expect(detail.checks.find((c) => c.id === 'gpu.driver')?.status).toBe('fail');

      // A wrong token is a rejection: exit 1.
      const wrongToken = path.join(dir, 'wrong-token');
      await writeFile(wrongToken, 'not-the-token');
      const err: string[] = [];
      const code = await runAgent(
        [
          '--aggregator',
          agg.url,
          '--once',
          '--ca-file',
          caFile,
          '--token-file',
          wrongToken,
          '--registries',
          'none',
          '--host-root',
          fixtureHostPath('bare'),
          '--node-name',
          'bare',
        ],
        {
          env: {},
          collect: fixtureCollect,
          log: memoryLogger(),
          stdout: () => {},
          stderr: (t) => err.push(t),
          handleSignals: false,
        },
      );
      expect(code).toBe(1);
      expect(err.join('')).toMatch(/rejected: HTTP 401/);
    } finally {
      await agg.close();
    }
  });
});

describe('aggregator restart', () => {
  it('a running agent keeps the newest report through the outage and delivers it again', async () => {
    let agg = await startAggregator();
    const port = agg.port;
    const url = new URL(agg.url);
    const log = memoryLogger();
    const host = createHostContext({ root: fixtureHostPath('containerd-2x'), execMode: 'local', path: '' });
    const reporter = createReporter(
      {
        collect: async () => {
          const { facts, probeErrors } = await collectFacts(host, {
            registries: null,
            registryTimeoutMs: 1000,
          });
          return {
            schemaVersion: 1,
            node: 'containerd-2x',
            agentVersion: 'e2e',
            collectedAt: new Date().toISOString(),
            facts,
            probeErrors,
          };
        },
        send: createSender({ url, tokenFile, caFile, timeoutMs: 2000 }),
        log,
      },
      // Short real-time settings: every probe is a heartbeat, the backoff stays under half a second.
      { intervalMs: 100, heartbeatMs: 100, backoffBaseMs: 50, backoffCapMs: 400 },
    );
    const waitFor = async (what: () => boolean) => {
      for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(what()).toBe(true);
    };
    try {
      reporter.start();
      await waitFor(() => agg.store.get('containerd-2x') !== undefined);

      await agg.close();
      await waitFor(() => reporter.status().state === 'unavailable');
      expect(reporter.status().pending).toBe(true);

      agg = await startAggregator(port);
      await waitFor(() => agg.store.get('containerd-2x') !== undefined);
      await waitFor(() => reporter.status().state === 'ok');
      expect(log.lines.filter((l) => /aggregator unreachable/.test(l.msg))).toHaveLength(1);
      expect(log.lines.filter((l) => /reachable again after \d+ attempts/.test(l.msg))).toHaveLength(1);
      const list = (await getJson(`${agg.url}/api/v1/nodes`)) as {
        nodes: Array<{ name: string; stale: boolean }>;
      };
      expect(list.nodes).toEqual([expect.objectContaining({ name: 'containerd-2x', stale: false })]);
    } finally {
      await reporter.stop();
      await agg.close();
    }
  });
});

describe('agents → an aggregator that refuses them', () => {
  it('an agent of a new node past --max-nodes logs the refusal once, retries only at its heartbeat, gets in once a slot frees', async () => {
    const agg = await startAggregator(0, { maxNodes: 1 });
    const log = memoryLogger();
    const attempts: Array<{ at: number; kind: string }> = [];
    const send = createSender({ url: new URL(agg.url), tokenFile, caFile, timeoutMs: 2000 });
    const heartbeatMs = 150;
    const reporter = createReporter(
      {
        collect: async () => reportOf('late-node'),
        send: async (report, signal) => {
          const result = await send(report, signal);
          attempts.push({ at: performance.now(), kind: result.kind });
          return result;
        },
        log,
      },
      { intervalMs: 20, heartbeatMs, backoffBaseMs: 10, backoffCapMs: 20 },
    );
    try {
      expect(await send(reportOf('first-node'))).toMatchObject({ kind: 'accepted' });
      reporter.start();
      await waitFor(() => attempts.length >= 4);
      expect(attempts.every((a) => a.kind === 'rejected')).toBe(true);
      // No hot loop: after a rejection the next attempt waits a heartbeat (probes every 20 ms meanwhile).
      for (let i = 1; i < attempts.length; i++) {
        expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(heartbeatMs - 5);
      }
      const refusals = log.lines.filter((l) => /rejected the report/.test(l.msg));
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatchObject({ level: 'error', status: 403 });
      expect(refusals[0]?.msg).toMatch(/--max-nodes 1 nodes: raise --max-nodes on the aggregator/);
      expect(agg.store.get('late-node')).toBeUndefined();

      agg.store.forget('first-node');
      await waitFor(() => agg.store.get('late-node') !== undefined);
      await waitFor(() => reporter.status().state === 'ok');
      expect(log.lines.filter((l) => /accepted the report again/.test(l.msg))).toHaveLength(1);
    } finally {
      await reporter.stop();
      await agg.close();
    }
  });

  it("while the aggregator's --token-file is unusable an agent backs off (503) and delivers once it is fixed", async () => {
    const file = path.join(dir, 'token-breaks');
    await writeFile(file, `${TOKEN}\n`);
    // Retry-After 1 s instead of 30 s: the agent honours it, so the test would wait half a minute.
    const agg = await startAggregator(0, { file, retryAfterSeconds: 1 });
    const log = memoryLogger();
    const reporter = createReporter(
      {
        collect: async () => reportOf('token-node'),
        send: createSender({ url: new URL(agg.url), tokenFile, caFile, timeoutMs: 2000 }),
        log,
      },
      { intervalMs: 50, heartbeatMs: 50, backoffBaseMs: 20, backoffCapMs: 100 },
    );
    try {
      await writeFile(file, '');
      reporter.start();
      await waitFor(() => reporter.status().state === 'unavailable');
      await waitFor(() => reporter.status().consecutiveFailures >= 2);
      const warned = log.lines.filter((l) => /aggregator unreachable/.test(l.msg));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ level: 'warn', status: 503 });
      expect(warned[0]?.msg).toMatch(/--token-file is empty, missing or unreadable/);
      expect(agg.store.get('token-node')).toBeUndefined();

      await writeFile(file, `${TOKEN}\n`);
      await waitFor(() => agg.store.get('token-node') !== undefined);
    } finally {
      await reporter.stop();
      await agg.close();
    }
  });
});
