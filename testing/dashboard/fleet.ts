// An aggregator with a fleet behind it, for the dashboard's browser tests, its render measurement and the
// README screenshot: fixture hosts probed by the agent's collector, evaluated by the real spec evaluator
// against the built-in baseline and stored as accepted reports (what POST /api/v1/reports does after
// authentication), plus copies of them under other node names to make a fleet of any size.

import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { collectFacts } from '../../agent/collect.js';
import { createHostContext } from '../../agent/host.js';
import { NoAuthenticator } from '../../aggregator/auth/no-auth.js';
import { OpenReads, type ReadAccess } from '../../aggregator/auth/read-access.js';
import type { AgentAuthenticator } from '../../aggregator/contracts.js';
import { type AggregatorServer, buildApp } from '../../aggregator/server/app.js';
import { createSpecEvaluator, type SpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { NodeStore } from '../../aggregator/store.js';
import type { Report } from '../../report/schema.js';
import { loadSpec } from '../../spec/load.js';

export function fixtureHostRoot(name: string): string {
  return fileURLToPath(new URL(`../../test/fixtures/hosts/${name}`, import.meta.url));
}

/** One fixture host's report, collected as an agent would (its own commands only, no registries). */
export async function fixtureReport(host: string, node: string = host): Promise<Report> {
  const ctx = createHostContext({ root: fixtureHostRoot(host), execMode: 'local', path: '' });
  const { facts, probeErrors } = await collectFacts(ctx, { registries: null, registryTimeoutMs: 1000 });
  return {
    schemaVersion: 1,
    node,
    agentVersion: 'fleet',
    collectedAt: new Date().toISOString(),
    facts: { ...facts, hostname: node },
    probeErrors,
  };
}

export interface FleetAggregator {
  server: AggregatorServer;
  store: NodeStore;
  evaluator: SpecEvaluator;
  url: string;
  /** Evaluate and store a report as an accepted one. */
  accept(report: Report, atMs?: number): void;
  close(): Promise<void>;
}

export async function startFleetAggregator(
  options: {
    tls?: { cert: string; key: string };
    authenticator?: AgentAuthenticator;
    readAccess?: ReadAccess;
    staleAfterMs?: number;
  } = {},
): Promise<FleetAggregator> {
  const store = new NodeStore({ staleAfterMs: options.staleAfterMs ?? 15 * 60_000 });
  const evaluator = createSpecEvaluator(await loadSpec());
  const server = await buildApp({
    evaluator,
    authenticator: options.authenticator ?? new NoAuthenticator({ warn() {} }),
    store,
    readAccess: options.readAccess ?? new OpenReads(),
    tls: options.tls ?? null,
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.app.server.address() as AddressInfo).port;
  return {
    server,
    store,
    evaluator,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    accept(report, atMs = Date.now()) {
      store.accept(report, evaluator.evaluate(report, undefined), atMs);
    },
    close: () => server.app.close(),
  };
}

/**
 * `count` nodes copied round-robin from the fixture hosts' reports, named `<prefix>-<host>-<n>`, reported
 * over the last `spreadMs` (so "last report" varies).
 */
export async function addFleet(
  agg: FleetAggregator,
  hosts: readonly string[],
  count: number,
  {
    spreadMs = 10 * 60_000,
    name = (host: string, i: number) => `${host}-${String(i).padStart(4, '0')}`,
  } = {},
): Promise<void> {
  const reports = await Promise.all(hosts.map((h) => fixtureReport(h)));
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const base = reports[i % reports.length]!;
    const node = name(hosts[i % hosts.length]!, i);
    agg.accept({ ...base, node, facts: { ...base.facts, hostname: node } }, now - ((i * 7919) % spreadMs));
  }
}
