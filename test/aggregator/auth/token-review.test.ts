import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  LRU_TOUCH_MS,
  TokenReviewAuthenticator,
  type TokenReviewOptions,
  tokenExpiryMs,
  tokenReviewApisFrom,
} from '../../../aggregator/auth/token-review.js';
import { parseNamespacedName } from '../../../aggregator/k8s/namespaced-name.js';
import { type K8sEmulator, makePod, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';
import { auth, makeApp, postReport, sampleReport } from '../harness.js';

const AUD = 'osmo-node-validator';
const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };

let emu: K8sEmulator;
beforeAll(async () => {
  emu = await startK8sEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.setUnreachable(false);
  emu.tokens.reviews.length = 0;
});

async function authenticator(extra: Partial<TokenReviewOptions> = {}): Promise<TokenReviewAuthenticator> {
  const apis = await tokenReviewApisFrom(emu.kubeConfig());
  return new TokenReviewAuthenticator({ ...apis, audience: AUD, serviceAccount: SA, ...extra });
}

const issue = (opts: Parameters<K8sEmulator['tokens']['issue']>[0] = {}) =>
  emu.tokens.issue({ serviceAccount: SA, audiences: [AUD], ...opts });

describe('TokenReview authenticator', () => {
  it('accepts the agent ServiceAccount token bound to the report node', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-1', podName: 'agent-x', podUid: 'uid-x' });
    expect(await a.authenticate(token, 'node-1')).toEqual({
      ok: true,
      identity: 'system:serviceaccount:osmo-node-validator:osmo-node-validator-agent@node-1',
    });
    expect(emu.tokens.reviews).toHaveLength(1);
    expect(emu.tokens.reviews[0]!.audiences).toEqual([AUD]);
  });

  it('rejects a token for another audience and an unknown token with 401', async () => {
    const a = await authenticator();
    const other = issue({ nodeName: 'node-1', audiences: ['https://kubernetes.default.svc'] });
    expect(await a.authenticate(other, 'node-1')).toMatchObject({ ok: false, status: 401 });
    expect(await a.authenticate('garbage', 'node-1')).toMatchObject({ ok: false, status: 401 });
    expect(await a.authenticate(undefined, 'node-1')).toMatchObject({ ok: false, status: 401 });
  });

  it('rejects an authenticated review whose audiences lack ours with 401', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-1' });
    emu.tokens.setOverride((_spec, computed) => ({ ...computed, audiences: ['something-else'] }));
    try {
      expect(await a.authenticate(token, 'node-1')).toMatchObject({ ok: false, status: 401 });
    } finally {
      emu.tokens.setOverride(null);
    }
  });

  it('rejects a token of another node with 403 and another ServiceAccount with 401, with no API call', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-1' });
    const wrongNode = await a.authenticate(token, 'node-2');
    expect(wrongNode).toMatchObject({ ok: false, status: 403 });
    expect(wrongNode.ok ? '' : wrongNode.reason).toContain('node-1');
    const stranger = emu.tokens.issue({
      serviceAccount: { namespace: 'default', name: 'default' },
      audiences: [AUD],
      nodeName: 'node-1',
    });
    expect(await a.authenticate(stranger, 'node-1')).toMatchObject({
      ok: false,
      status: 401,
      reason: 'system:serviceaccount:default:default is not the agent ServiceAccount',
    });
    expect(a.reviews).toBe(0);
  });

  it('falls back to the bound pod before Kubernetes 1.30', async () => {
    const a = await authenticator();
    const pod = emu.pods.put(makePod(SA.namespace, 'agent-abc', 'node-7', 'pod-uid-7'));
    expect(pod.metadata).toMatchObject({ uid: 'pod-uid-7' });
    const token = issue({
      nodeName: 'node-7',
      omitNodeName: true,
      podName: 'agent-abc',
      podUid: 'pod-uid-7',
    });
    expect(await a.authenticate(token, 'node-7')).toMatchObject({ ok: true });
    expect(await a.authenticate(token, 'node-8')).toMatchObject({ ok: false, status: 403 });

    const replaced = issue({ omitNodeName: true, podName: 'agent-abc', podUid: 'an-older-uid' });
    expect(await a.authenticate(replaced, 'node-7')).toMatchObject({ ok: false, status: 403 });
    const gone = issue({ omitNodeName: true, podName: 'agent-gone', podUid: 'uid-gone' });
    expect(await a.authenticate(gone, 'node-7')).toMatchObject({ ok: false, status: 403 });
    const unbound = issue({});
    expect(await a.authenticate(unbound, 'node-7')).toMatchObject({ ok: false, status: 403 });
  });

  it('caches a successful review: a node-bound token makes no API call the second time', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-c' });
    expect(await a.authenticate(token, 'node-c')).toMatchObject({ ok: true });
    emu.reset();
    expect(await a.authenticate(token, 'node-c')).toMatchObject({ ok: true });
    // The cached binding still refuses another node.
    expect(await a.authenticate(token, 'node-d')).toMatchObject({ ok: false, status: 403 });
    expect(emu.requests).toHaveLength(0);
    expect(a.reviews).toBe(1);
  });

  it('a pod-bound token (before 1.30) reuses its review but reads its pod on every report', async () => {
    const a = await authenticator();
    emu.pods.put(makePod(SA.namespace, 'agent-c', 'node-c', 'uid-c'));
    const token = issue({ omitNodeName: true, podName: 'agent-c', podUid: 'uid-c' });
    expect(await a.authenticate(token, 'node-c')).toMatchObject({ ok: true });
    emu.reset();
    expect(await a.authenticate(token, 'node-c')).toMatchObject({ ok: true });
    expect(await a.authenticate(token, 'node-d')).toMatchObject({ ok: false, status: 403 });
    expect(a.reviews).toBe(1);
    expect(emu.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/v1/namespaces/${SA.namespace}/pods/agent-c`,
      `GET /api/v1/namespaces/${SA.namespace}/pods/agent-c`,
    ]);
  });

  it('never reuses a review past the token exp or the max TTL', async () => {
    let now = Date.now();
    const a = await authenticator({ now: () => now, maxTtlMs: 300_000 });
    const shortLived = issue({ nodeName: 'n', expiresAt: now + 60_000 });
    expect(tokenExpiryMs(shortLived)).toBe(Math.floor((now + 60_000) / 1000) * 1000);
    expect(await a.authenticate(shortLived, 'n')).toMatchObject({ ok: true });
    now += 30_000;
    expect(await a.authenticate(shortLived, 'n')).toMatchObject({ ok: true });
    expect(a.reviews).toBe(1);
    // Past its exp the token is refused outright: neither the cached review nor a new one.
    now += 31_000;
    expect(await a.authenticate(shortLived, 'n')).toMatchObject({
      ok: false,
      status: 401,
      reason: 'token expired',
    });
    expect(a.reviews).toBe(1);

    const hourLong = issue({ nodeName: 'n' });
    await a.authenticate(hourLong, 'n');
    now += 299_000;
    await a.authenticate(hourLong, 'n');
    expect(a.reviews).toBe(2);
    now += 2_000;
    await a.authenticate(hourLong, 'n');
    expect(a.reviews).toBe(3);
  });

  it('bounds the cache (LRU)', async () => {
    const a = await authenticator({ cacheSize: 2 });
    const tokens = [1, 2, 3].map(() => issue({ nodeName: 'n' }));
    for (const t of tokens) await a.authenticate(t, 'n');
    expect(a.cacheSizeNow()).toBe(2);
    await a.authenticate(tokens[0]!, 'n'); // evicted: reviewed again
    expect(a.reviews).toBe(4);
  });

  it('moves a hit to the young end of the cache at most once per LRU_TOUCH_MS', async () => {
    let now = Date.now();
    const a = await authenticator({ cacheSize: 2, now: () => now });
    // One node per token: a node's own TokenReview budget is not what this test is about.
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    const tokens = nodes.map((nodeName) => issue({ nodeName }));
    const use = (i: number) => a.authenticate(tokens[i]!, nodes[i]!);
    await use(0);
    await use(1);
    now += LRU_TOUCH_MS - 1;
    await use(0); // a hit too soon to move: it stays the oldest
    await use(2); // evicts token 0
    expect(a.reviews).toBe(3);
    now += LRU_TOUCH_MS;
    await use(1); // moves: token 2 is now the oldest
    await use(3); // evicts token 2
    await use(1);
    expect(a.reviews).toBe(4);
    await use(0);
    await use(2);
    expect(a.reviews).toBe(6);
  });

  it('answers 503 (not 401) when the API server is unreachable', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-1' });
    emu.setUnreachable(true);
    expect(await a.authenticate(token, 'node-1')).toMatchObject({ ok: false, status: 503 });
    emu.setUnreachable(false);
    expect(await a.authenticate(token, 'node-1')).toMatchObject({ ok: true });
    // A 5xx answer is unavailability too.
    emu.inject({ method: 'POST', path: /tokenreviews/, status: 500 });
    expect(await a.authenticate(issue({ nodeName: 'node-1' }), 'node-1')).toMatchObject({
      ok: false,
      status: 503,
    });
  });

  it('parses NAMESPACE/NAME', () => {
    expect(parseNamespacedName('ns/sa')).toEqual({ namespace: 'ns', name: 'sa' });
    expect(() => parseNamespacedName('ns')).toThrow(/NAMESPACE\/NAME/);
    expect(() => parseNamespacedName('a/b/c')).toThrow();
  });
});

describe('POST /api/v1/reports with TokenReview', () => {
  it('maps outcomes to 202, 401, 403 and 503, and changes no state on rejection', async () => {
    const t = await makeApp({ authenticator: await authenticator() });
    try {
      const good = issue({ nodeName: 'node-1' });
      expect((await postReport(t.app, sampleReport('node-1'), auth(good))).statusCode).toBe(202);
      const forbidden = await postReport(t.app, sampleReport('node-2'), auth(good));
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json()).toMatchObject({
        error: 'Forbidden',
        message: expect.stringContaining('node-2'),
      });
      expect((await postReport(t.app, sampleReport('node-1'), auth('nope'))).statusCode).toBe(401);
      emu.setUnreachable(true);
      const down = await postReport(t.app, sampleReport('node-9'), auth(issue({ nodeName: 'node-9' })));
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      emu.setUnreachable(false);
      const nodes = (await t.app.inject({ method: 'GET', url: '/api/v1/nodes' })).json().nodes;
      expect(nodes.map((n: { name: string }) => n.name)).toEqual(['node-1']);
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/^osmo_validator_reports_rejected_total\{reason="forbidden"\} 1$/m);
      expect(metrics).toMatch(/^osmo_validator_reports_rejected_total\{reason="unavailable"\} 1$/m);
    } finally {
      await t.app.close();
    }
  });
});
