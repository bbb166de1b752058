// Shared pieces of the aggregator tests: a valid report, a controllable evaluator, and an in-process app.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { OpenReads } from '../../aggregator/auth/read-access.js';
import { SharedTokenAuthenticator } from '../../aggregator/auth/shared-token.js';
import type {
  AgentAuthenticator,
  KubernetesIntegration,
  NodeState,
  ReconcileSink,
} from '../../aggregator/contracts.js';
import { type AggregatorServer, type AppDeps, buildApp } from '../../aggregator/server/app.js';
import type { ReportEvaluator } from '../../aggregator/server/evaluator.js';
import { NodeStore } from '../../aggregator/store.js';
import type { CheckResult, NodeResult, Report, Verdict } from '../../report/schema.js';
import { evaluatedFacts } from '../../spec/jetpack.js';

export const TOKEN = 'test-token-0123456789abcdef';

export function sampleReport(node = 'node-a', overrides: Partial<Report> = {}): Report {
  return {
    schemaVersion: 1,
    node,
    agentVersion: '0.1.0',
    collectedAt: '2025-01-01T00:00:00.000Z',
    facts: {
      hostname: node,
      cpu: { arch: 'x86_64', logicalCores: 16, physicalCores: 8, model: 'Test CPU' },
      memory: { totalBytes: 64 * 1024 ** 3 },
      disks: [{ path: '/', capacityBytes: 500e9, freeBytes: 300e9 }],
      os: {
        id: 'ubuntu',
        versionId: '22.04',
        prettyName: 'Ubuntu 22.04.4 LTS',
        idLike: ['debian'],
        kernelRelease: '5.15.0-100-generic',
      },
      gpu: null,
      jetson: null,
      containerd: { version: '1.7.27', raw: 'containerd github.com/containerd/containerd v1.7.27' },
      registries: null,
      dns: { nameservers: ['10.0.0.2'], hostnameResolves: true },
      apiServerEncryption: null,
    },
    probeErrors: [],
    ...overrides,
  };
}

/** Verdict by node name (default pass); a failing node fails `memory.total`. */
export function fakeEvaluator(verdictOf: (node: string) => Verdict = () => 'pass'): ReportEvaluator & {
  calls: number;
} {
  const ev = {
    calls: 0,
    spec: {
      apiVersion: 'validator.osmo.nvidia.com/v1alpha1',
      kind: 'NodeBaseline',
      metadata: { name: 'fake' },
    },
    evaluate(report: Report, labels: Record<string, string> | undefined): NodeResult {
      ev.calls++;
      const verdict = verdictOf(report.node);
      const check: CheckResult = {
        id: 'memory.total',
        status: verdict,
        observed: String(report.facts.memory?.totalBytes ?? null),
        expected: '>= 32 GiB',
        message: 'memory',
        remediation: null,
        source: null,
      };
      return {
        node: report.node,
        role: labels?.['node-type'] === 'gpu' ? 'gpu' : 'compute',
        roleSource: labels ? 'label:node-type' : 'facts',
        verdict,
        // A fake evaluation with no L4T → JetPack table.
        facts: evaluatedFacts(report.facts, new Map()),
        probeErrors: report.probeErrors,
        checks: [check],
        collectedAt: report.collectedAt,
        evaluatedAt: new Date().toISOString(),
        spec: { name: 'fake', revision: '1' },
      };
    },
  };
  return ev;
}

export function tokenFile(token = TOKEN): string {
  const dir = mkdtempSync(join(tmpdir(), 'onv-agg-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${token}\n`);
  return file;
}

export class RecordingSink implements ReconcileSink {
  updates: NodeState[] = [];
  forgotten: string[] = [];
  update(state: NodeState): void {
    this.updates.push(state);
  }
  forget(node: string): void {
    this.forgotten.push(node);
  }
}

export interface TestApp {
  server: AggregatorServer;
  app: FastifyInstance;
  store: NodeStore;
  sink: RecordingSink;
  evaluator: ReportEvaluator;
}

export async function makeApp(
  options: Partial<AppDeps> & {
    staleAfterMs?: number;
    authenticator?: AgentAuthenticator;
    kubernetes?: KubernetesIntegration | null;
  } = {},
): Promise<TestApp> {
  const sink = new RecordingSink();
  const store =
    options.store ??
    new NodeStore({
      staleAfterMs: options.staleAfterMs ?? 15 * 60_000,
      sink,
      cluster: options.kubernetes?.cluster,
    });
  const evaluator = options.evaluator ?? fakeEvaluator();
  const authenticator = options.authenticator ?? new SharedTokenAuthenticator({ file: tokenFile() });
  // Reads open unless a test passes its ReadAccess (read-access tests do; the rest test other things).
  const readAccess = options.readAccess ?? new OpenReads();
  const server = await buildApp({ ...options, evaluator, store, authenticator, readAccess });
  await server.app.ready();
  return { server, app: server.app, store, sink, evaluator };
}

export const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

/** POST a report as JSON (or a raw string body). */
export function postReport(app: FastifyInstance, body: unknown, headers: Record<string, string> = auth()) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/reports',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A JWT-shaped token (unsigned: nothing here verifies it; the TokenReview double knows it by value). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part(claims)}.${Buffer.from('signature').toString('base64url')}`;
}
