// Attacks on the aggregator: label injection through report values, tampered ownership annotations,
// spoofed or replayed tokens, and plain HTTP to the TLS port. Everything runs against the real app, the
// real evaluator and spec, and the Kubernetes API emulator through the real client.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenReviewAuthenticator, tokenReviewApisFrom } from '../../aggregator/auth/token-review.js';
import { isValidLabelValue } from '../../aggregator/k8s/label-values.js';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { NodeStore } from '../../aggregator/store.js';
import { loadSpec } from '../../spec/load.js';
import { makeNode, makePod, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { makeApp, postReport, sampleReport } from '../aggregator/harness.js';
import { labels, names, startEmulator, startIntegration, taints } from '../aggregator/reconcile/k8s-setup.js';
import { generateTestPki } from '../helpers/certs.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const P = names.labelPrefix;
const FOREIGN_TAINT = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' as const };

/** Every key any write to a node tried to set or remove, by kind. */
function writtenKeys(requests: readonly { method: string; path: string; body: unknown }[]) {
  const out = {
    labels: [] as Array<[string, unknown]>,
    annotations: [] as string[],
    taints: [] as unknown[],
    conditions: [] as string[],
  };
  for (const r of requests) {
    if (!['PATCH', 'PUT', 'POST', 'DELETE'].includes(r.method) || !r.path.startsWith('/api/v1/nodes'))
      continue;
    const body = (r.body ?? {}) as {
      metadata?: { labels?: Record<string, unknown>; annotations?: Record<string, unknown> };
      spec?: { taints?: unknown[] };
      status?: { conditions?: Array<{ type?: string }> };
    };
    for (const [k, v] of Object.entries(body.metadata?.labels ?? {})) out.labels.push([k, v]);
    out.annotations.push(...Object.keys(body.metadata?.annotations ?? {}));
    out.taints.push(...(body.spec?.taints ?? []));
    out.conditions.push(...(body.status?.conditions ?? []).map((c) => String(c.type)));
  }
  return out;
}

const hostileString = fc.oneof(
  fc.constantFrom(
    '550.54.15 (open kernel module)',
    '../../etc/passwd',
    '535.216.03\nnode-role.kubernetes.io/control-plane=true',
    'kubernetes.io/hostname',
    'a'.repeat(64),
    ' 1.7.27 ',
    '"},"spec":{"taints":[]}',
    '\u202e12.6',
  ),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
);

describe('label injection', () => {
  it('hostile version strings are sanitised or omitted; no write touches a key outside the prefix', async () => {
    const nodeNames = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
    const emu = await startEmulator(
      nodeNames.map((n) =>
        makeNode(n, {
          labels: { 'node-type': 'gpu', team: 'vision', 'node-role.kubernetes.io/worker': '' },
          // A tampered ownership annotation claiming foreign keys: must not make us remove them.
          annotations: {
            [names.annotations.managedLabels]:
              '["team","node-role.kubernetes.io/worker","kubernetes.io/hostname"]',
            [names.annotations.managedTaints]: '["nvidia.com/gpu"]',
          },
          taints: [FOREIGN_TAINT],
        }),
      ),
    );
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu, { maxTaintedPercent: 100 });
    cleanup.push(() => integration.stop());
    const store = new NodeStore({
      staleAfterMs: 60_000,
      sink: integration.sink,
      cluster: integration.cluster,
    });
    const t = await makeApp({
      evaluator: createSpecEvaluator(await loadSpec()),
      kubernetes: integration,
      store,
    });
    cleanup.push(() => t.app.close());
    emu.reset();

    const samples = fc.sample(
      fc.record({
        driver: hostileString,
        cuda: hostileString,
        containerd: hostileString,
        jetpack: hostileString,
      }),
      { numRuns: 36, seed: 77 },
    );
    let accepted = 0;
    for (const [i, s] of samples.entries()) {
      const node = nodeNames[i % nodeNames.length]!;
      const r = sampleReport(node);
      r.facts.gpu = {
        driverVersion: s.driver,
        cudaVersion: s.cuda,
        devices: [{ name: 'NVIDIA A100', uuid: 'GPU-1', memoryMiB: 81559, pciBusId: null, migMode: null }],
        containerToolkit: null,
      };
      r.facts.containerd = { version: s.containerd, raw: `containerd ${s.containerd}` };
      r.facts.jetson = {
        l4tVersion: null,
        jetpackVersion: s.jetpack,
        jetpackPackageVersion: null,
        cudaVersion: null,
        board: null,
      };
      const res = await postReport(t.app, r);
      expect([202, 400]).toContain(res.statusCode);
      if (res.statusCode === 202) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
    await integration.idle(10_000);

    const written = writtenKeys(emu.requests);
    expect(written.labels.length).toBeGreaterThan(0);
    for (const [key, value] of written.labels) {
      expect(key.startsWith(P), key).toBe(true);
      if (value !== null) expect(isValidLabelValue(String(value)), `${key}=${String(value)}`).toBe(true);
    }
    for (const key of written.annotations) expect(key.startsWith(P), key).toBe(true);
    for (const type of written.conditions) expect(type).toBe(names.conditionType);
    for (const taint of written.taints as Array<{ key: string }>) {
      // spec.taints is replaced whole: foreign taints may only be carried over unchanged.
      if (!taint.key.startsWith(P)) expect(taint).toEqual(FOREIGN_TAINT);
    }
    for (const n of nodeNames) {
      expect(labels(emu, n)).toMatchObject({
        'node-type': 'gpu',
        team: 'vision',
        'node-role.kubernetes.io/worker': '',
      });
      expect(taints(emu, n)).toContainEqual(FOREIGN_TAINT);
    }
  });
});

describe('spoofing and replay (TokenReview against the emulator)', () => {
  const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
  const AUD = 'osmo-node-validator';

  async function setup(now: () => number = Date.now) {
    const emu = await startK8sEmulator({ now });
    cleanup.push(() => emu.close());
    const authenticator = new TokenReviewAuthenticator({
      ...(await tokenReviewApisFrom(emu.kubeConfig())),
      audience: AUD,
      serviceAccount: SA,
      now,
    });
    const t = await makeApp({ authenticator });
    cleanup.push(() => t.app.close());
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    return { emu, t, bearer };
  }

  it('an expired token is 401 and stores nothing', async () => {
    const { emu, t, bearer } = await setup();
    const token = emu.tokens.issue({
      serviceAccount: SA,
      audiences: [AUD],
      nodeName: 'node-1',
      expiresAt: Date.now() - 1000,
    });
    const res = await postReport(t.app, sampleReport('node-1'), bearer(token));
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/expired/);
    expect(t.store.size()).toBe(0);
  });

  it('a token of another ServiceAccount in the same namespace, and a wrong audience, are refused', async () => {
    const { emu, t, bearer } = await setup();
    const other = emu.tokens.issue({
      serviceAccount: { namespace: SA.namespace, name: 'default' },
      audiences: [AUD],
      nodeName: 'node-1',
    });
    expect((await postReport(t.app, sampleReport('node-1'), bearer(other))).statusCode).toBe(401);
    const kubeAud = emu.tokens.issue({ serviceAccount: SA, nodeName: 'node-1' });
    expect((await postReport(t.app, sampleReport('node-1'), bearer(kubeAud))).statusCode).toBe(401);
    expect(t.store.size()).toBe(0);
  });

  it('before 1.30: a replayed token of a deleted pod is refused even after it was once accepted', async () => {
    const { emu, t, bearer } = await setup();
    emu.pods.put(makePod(SA.namespace, 'agent-a', 'node-a', 'uid-a'));
    const token = emu.tokens.issue({
      serviceAccount: SA,
      audiences: [AUD],
      omitNodeName: true,
      podName: 'agent-a',
      podUid: 'uid-a',
    });
    expect((await postReport(t.app, sampleReport('node-a'), bearer(token))).statusCode).toBe(202);
    expect((await postReport(t.app, sampleReport('node-b'), bearer(token))).statusCode).toBe(403);
    emu.pods.delete('agent-a', SA.namespace);
    // The token leaked from the deleted pod: the node binding it proved no longer holds.
    const replay = await postReport(t.app, sampleReport('node-a'), bearer(token));
    expect(replay.statusCode).toBe(403);
  });
});

describe('transport', () => {
  it('plain HTTP to the TLS port is rejected, never served', async () => {
    const pki = await generateTestPki();
    const t = await makeApp({ tls: { cert: pki.server.cert, key: pki.server.key } });
    cleanup.push(() => t.app.close());
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/reports',
          agent: false,
          headers: {
            'content-type': 'application/json',
            authorization: 'Bearer test-token-0123456789abcdef',
          },
        },
        (res) => {
          res.resume();
          resolve(`status ${res.statusCode}`);
        },
      );
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.end(JSON.stringify(sampleReport('plain')));
    });
    // Either the connection is dropped or a 4xx comes back: never a 2xx, never stored.
    expect(outcome).toMatch(/^(error |status 4)/);
    expect(t.store.size()).toBe(0);
  });
});
