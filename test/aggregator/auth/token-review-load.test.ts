// Load protection of TokenReview auth: malformed or expired tokens cost no API call, refusals are cached
// for 30 s, TokenReview calls are rate-limited (503 + Retry-After), and the summary's StorageClass list is
// cached for 60 s. "TokenReview only" is the fallback used while the issuer's keys cannot be fetched.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  NEGATIVE_CACHE_TTL_MS,
  precheckToken,
  TokenReviewAuthenticator,
  type TokenReviewOptions,
  tokenReviewApisFrom,
} from '../../../aggregator/auth/token-review.js';
import { type Clock, TokenBucket } from '../../../aggregator/k8s/rate-limit.js';
import { type K8sEmulator, makeStorageClass, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';
import { fakeJwt, makeApp, postReport, sampleReport, type TestApp } from '../harness.js';
import { startIntegration } from '../reconcile/k8s-setup.js';

const AUD = 'osmo-node-validator';
const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };

let emu: K8sEmulator;
let clock = 1_000_000_000_000;
const now = () => clock;
beforeAll(async () => {
  emu = await startK8sEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  clock = Date.now();
  emu.setUnreachable(false);
  emu.tokens.reviews.length = 0;
});
let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

/** As the aggregator command builds it; `reviewOnly`: without issuer discovery (the fallback). */
async function authenticator(extra: Partial<TokenReviewOptions> = {}, reviewOnly = false) {
  const { api, pods, discovery } = await tokenReviewApisFrom(emu.kubeConfig());
  return new TokenReviewAuthenticator({
    api,
    pods,
    ...(reviewOnly ? {} : { discovery }),
    audience: AUD,
    serviceAccount: SA,
    jwtOnly: true,
    now,
    ...extra,
  });
}

/** A signed token the emulator knows (valid for an hour unless told otherwise). */
function issue(node: string, opts: Parameters<K8sEmulator['tokens']['issue']>[0] = {}) {
  return emu.tokens.issue({
    issuedAt: clock,
    expiresAt: clock + 3_600_000,
    serviceAccount: SA,
    audiences: [AUD],
    nodeName: node,
    ...opts,
  });
}

describe('token pre-check (before any TokenReview)', () => {
  it('tells JWTs from anything else and sees a past exp without trusting the token', () => {
    const at = Date.parse('2025-01-01T00:00:00Z');
    expect(precheckToken(fakeJwt({ exp: at / 1000 + 60 }), at)).toBeUndefined();
    expect(precheckToken(fakeJwt({}), at)).toBeUndefined(); // no exp: the review decides
    expect(precheckToken(fakeJwt({ exp: at / 1000 - 1 }), at)).toBe('token expired');
    for (const bad of [
      'opaque-token',
      'a.b',
      'a.b.c.d',
      'e30.e30.',
      'e30.e30.si+g',
      'bm90IGpzb24.e30.c2ln',
    ]) {
      expect(precheckToken(bad, at)).toMatch(/malformed/);
    }
  });

  it('malformed and expired tokens are 401 with no TokenReview', async () => {
    const a = await authenticator();
    t = await makeApp({ authenticator: a });
    const malformed = await postReport(t.app, sampleReport('n1'), { authorization: 'Bearer not-a-jwt' });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.json().message).toMatch(/malformed/);
    const expired = issue('n1', { issuedAt: clock - 3_600_000, expiresAt: clock - 10_000 });
    const res = await postReport(t.app, sampleReport('n1'), { authorization: `Bearer ${expired}` });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/expired/);
    expect(emu.tokens.reviews.length).toBe(0);
    expect(a.reviews).toBe(0);
    // A good one still goes through.
    const good = issue('n1');
    expect(
      (await postReport(t.app, sampleReport('n1'), { authorization: `Bearer ${good}` })).statusCode,
    ).toBe(202);
    expect(a.reviews).toBe(1);
  });
});

describe('refusals are cached for 30 s', () => {
  it('TokenReview only: an unknown token, another ServiceAccount and a wrong audience are reviewed once per 30 s', async () => {
    const a = await authenticator({}, true);
    const unknown = fakeJwt({ exp: clock / 1000 + 3600, jti: 'unknown' });
    const otherSa = issue('n1', { serviceAccount: { namespace: SA.namespace, name: 'default' } });
    const wrongAud = issue('n1', { audiences: ['https://kubernetes.default.svc'] });
    for (let round = 0; round < 3; round++) {
      expect(await a.authenticate(unknown, 'n1')).toMatchObject({ ok: false, status: 401 });
      expect(await a.authenticate(otherSa, 'n1')).toMatchObject({ ok: false, status: 401 });
      expect(await a.authenticate(wrongAud, 'n1')).toMatchObject({ ok: false, status: 401 });
    }
    expect(a.reviews).toBe(3);
    clock += NEGATIVE_CACHE_TTL_MS + 1;
    expect(await a.authenticate(unknown, 'n1')).toMatchObject({ ok: false, status: 401 });
    expect(a.reviews).toBe(4);
  });

  it('with the issuer keys those cost no review at all; a revoked token is reviewed once per 30 s', async () => {
    const a = await authenticator();
    const unknown = fakeJwt({ exp: clock / 1000 + 3600, jti: 'unknown' });
    const otherSa = issue('n1', { serviceAccount: { namespace: SA.namespace, name: 'default' } });
    const wrongAud = issue('n1', { audiences: ['https://kubernetes.default.svc'] });
    const revoked = issue('n1');
    emu.tokens.revoke(revoked); // as when its pod is deleted
    for (let round = 0; round < 3; round++) {
      expect(await a.authenticate(unknown, 'n1')).toMatchObject({ ok: false, status: 401 });
      expect(await a.authenticate(otherSa, 'n1')).toMatchObject({ ok: false, status: 401 });
      expect(await a.authenticate(wrongAud, 'n1')).toMatchObject({ ok: false, status: 401 });
      expect(await a.authenticate(revoked, 'n1')).toMatchObject({
        ok: false,
        status: 401,
        reason: expect.stringMatching(/not authenticated/),
      });
    }
    expect(a.reviews).toBe(1);
    clock += NEGATIVE_CACHE_TTL_MS + 1;
    expect(await a.authenticate(revoked, 'n1')).toMatchObject({ ok: false, status: 401 });
    expect(a.reviews).toBe(2);
  });

  it('the refusal cache is bounded, and an unreachable API server (503) is not cached', async () => {
    const a = await authenticator({ negativeCacheSize: 2 }, true);
    const tokens = ['a', 'b', 'c'].map((jti) => fakeJwt({ exp: clock / 1000 + 3600, jti }));
    for (const tok of tokens) await a.authenticate(tok, 'n1');
    expect(a.reviews).toBe(3);
    await a.authenticate(tokens[0], 'n1'); // evicted (oldest): reviewed again
    await a.authenticate(tokens[2], 'n1'); // still cached
    expect(a.reviews).toBe(4);

    const good = issue('n2');
    emu.setUnreachable(true);
    expect(await a.authenticate(good, 'n2')).toMatchObject({ ok: false, status: 503 });
    emu.setUnreachable(false);
    expect(await a.authenticate(good, 'n2')).toMatchObject({ ok: true });
  });
});

describe('TokenReview rate limit', () => {
  it('TokenReview only: excess reviews are 503 with Retry-After; cached tokens are not limited', async () => {
    const fake: Clock = { now, sleep: async () => {} };
    const a = await authenticator({ limiter: new TokenBucket(0.5, 2, fake) }, true);
    t = await makeApp({ authenticator: a });
    const post = (node: string, token: string) =>
      postReport(t!.app, sampleReport(node), { authorization: `Bearer ${token}` });
    const [t1, t2, t3] = ['n1', 'n2', 'n3'].map((n) => issue(n));
    expect((await post('n1', t1!)).statusCode).toBe(202);
    expect((await post('n2', t2!)).statusCode).toBe(202);
    const limited = await post('n3', t3!);
    expect(limited.statusCode).toBe(503);
    expect(Number(limited.headers['retry-after'])).toBe(2);
    expect(emu.tokens.reviews.length).toBe(2);
    // Accepted tokens are cached: no review needed.
    expect((await post('n1', t1!)).statusCode).toBe(202);
    // After the refill, the third goes through; a 503 was not cached as a refusal.
    clock += 2000;
    expect((await post('n3', t3!)).statusCode).toBe(202);
    expect(emu.tokens.reviews.length).toBe(3);
  });
});

describe('summary cluster checks', () => {
  it('list StorageClasses at most once a minute', async () => {
    const k8s = await startK8sEmulator();
    try {
      k8s.storageClasses.put(makeStorageClass('standard', true));
      let at = Date.now();
      const { integration } = await startIntegration(k8s, { now: () => at });
      try {
        const lists = () => k8s.requestsBy('GET', '/apis/storage.k8s.io/v1/storageclasses').length;
        const first = await integration.clusterChecks([]);
        await Promise.all([integration.clusterChecks([]), integration.clusterChecks([])]);
        expect(lists()).toBe(1);
        at += 59_000;
        k8s.storageClasses.delete('standard');
        expect(await integration.clusterChecks([])).toEqual(first);
        expect(lists()).toBe(1);
        at += 2_000;
        const later = await integration.clusterChecks([]);
        expect(lists()).toBe(2);
        expect(later).not.toEqual(first); // the default StorageClass is gone
      } finally {
        await integration.stop();
      }
    } finally {
      await k8s.close();
    }
  });
});
