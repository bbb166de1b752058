// Local verification before TokenReview (aggregator/auth/token-review.ts with auth/jwks.ts), against the
// API emulator through the real client: forged, foreign, misdirected and expired tokens cost no API call;
// verified tokens are still reviewed (revocation) within a budget per node; the issuer's keys are
// refreshed on rotation and periodically; without them it falls back to TokenReview alone and says so.
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  TokenReviewAuthenticator,
  type TokenReviewOptions,
  tokenReviewApisFrom,
} from '../../../aggregator/auth/token-review.js';
import type { StructuredLogger } from '../../../aggregator/contracts.js';
import {
  generateSigningKey,
  type K8sEmulator,
  type K8sEmulatorOptions,
  makePod,
  signJwt,
  startK8sEmulator,
} from '../../../testing/k8s-emulator/index.js';
import { makeApp, postReport, sampleReport } from '../harness.js';

const AUD = 'osmo-node-validator';
const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
const JWKS = '/openid/v1/jwks';
const DISCOVERY = '/.well-known/openid-configuration';

let emu: K8sEmulator;
let clock = Date.now();
const now = () => clock;
beforeAll(async () => {
  emu = await startK8sEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  clock = Date.now();
  emu.clearFaults();
  emu.reset();
  emu.tokens.reviews.length = 0;
});
const extraEmulators: K8sEmulator[] = [];
afterEach(async () => {
  for (const e of extraEmulators.splice(0)) await e.close();
});

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}
function recordingLogger(): StructuredLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function authenticator(extra: Partial<TokenReviewOptions> = {}, on: K8sEmulator = emu) {
  const a = new TokenReviewAuthenticator({
    ...(await tokenReviewApisFrom(on.kubeConfig())),
    audience: AUD,
    serviceAccount: SA,
    jwtOnly: true,
    now,
    ...extra,
  });
  // The keys are fetched at construction; the first identify would wait for them anyway.
  await a.identify('warm.up.token');
  return a;
}

const issue = (opts: Parameters<K8sEmulator['tokens']['issue']>[0] = {}, on: K8sEmulator = emu) =>
  on.tokens.issue({ serviceAccount: SA, audiences: [AUD], issuedAt: clock, ...opts });

const reviewsOf = (e: K8sEmulator) =>
  e.requestsBy('POST', '/apis/authentication.k8s.io/v1/tokenreviews').length;
const apiCalls = (e: K8sEmulator) => e.requests.filter((r) => r.path !== JWKS && r.path !== DISCOVERY).length;

async function emulator(options: K8sEmulatorOptions = {}): Promise<K8sEmulator> {
  const e = await startK8sEmulator({ now, ...options });
  extraEmulators.push(e);
  return e;
}

describe('local verification: refused with no API call', () => {
  it('forged, foreign, misdirected, expired and not-yet-valid tokens', async () => {
    const a = await authenticator();
    const genuine = issue({ nodeName: 'node-1' });
    const [h, c, s] = genuine.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    const withClaims = (changes: object) =>
      `${h}.${Buffer.from(JSON.stringify({ ...claims, ...changes })).toString('base64url')}.${s}`;
    const foreignKey = generateSigningKey('RS256');
    emu.reset();
    const cases: Array<[string, string, number, RegExp]> = [
      [
        'node claim changed after signing',
        withClaims({ 'kubernetes.io': { ...claims['kubernetes.io'], node: { name: 'node-2', uid: 'u' } } }),
        401,
        /signature/,
      ],
      ['signed by another cluster', signJwt(claims, foreignKey), 401, /not among the issuer's keys/],
      [
        'another cluster, our kid',
        signJwt(claims, foreignKey, { kid: emu.tokens.activeKey.kid }),
        401,
        /signature/,
      ],
      ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${c}.`, 401, /malformed/],
      ['another issuer', issue({ nodeName: 'node-1', issuer: 'https://evil.example' }), 401, /issuer/],
      [
        'another audience',
        issue({ nodeName: 'node-1', audiences: ['https://kubernetes.default.svc'] }),
        401,
        /audience/,
      ],
      [
        'expired',
        issue({ nodeName: 'node-1', issuedAt: clock - 7_200_000, expiresAt: clock - 1 }),
        401,
        /expired/,
      ],
      ['not yet valid', issue({ nodeName: 'node-1', issuedAt: clock + 600_000 }), 401, /not valid yet/],
      [
        'another ServiceAccount',
        emu.tokens.issue({ serviceAccount: { namespace: SA.namespace, name: 'default' }, audiences: [AUD] }),
        401,
        /not the agent ServiceAccount/,
      ],
      ['opaque', 'not-a-jwt', 401, /malformed/],
    ];
    for (const [what, token, status, reason] of cases) {
      const got = await a.authenticate(token, 'node-1');
      expect(got, what).toMatchObject({ ok: false, status, reason: expect.stringMatching(reason) });
    }
    // A genuine token for another node: 403 before any review.
    expect(await a.authenticate(genuine, 'node-2')).toMatchObject({ ok: false, status: 403 });
    // The only API call: one JWKS refresh for the unknown kid (at most one per 30 s).
    expect(apiCalls(emu)).toBe(0);
    expect(emu.requestsBy('GET', JWKS).length).toBe(1);
    expect(a.reviews).toBe(0);
    expect(await a.authenticate(genuine, 'node-1')).toMatchObject({ ok: true });
    expect(a.reviews).toBe(1);
    expect(a.localVerification()).toMatchObject({ active: true, keys: 1 });
    expect(a.describe()).toMatch(/local verification against 1 key\(s\) of issuer https:\/\/kubernetes/);
  });

  it('ES256 keys work the same', async () => {
    const ec = await emulator({ signingAlgorithm: 'ES256' });
    const a = await authenticator({}, ec);
    expect(await a.authenticate(issue({ nodeName: 'n' }, ec), 'n')).toMatchObject({ ok: true });
    const rsaSigned = issue({ nodeName: 'n' }); // the other emulator's RSA key
    expect(await a.authenticate(rsaSigned, 'n')).toMatchObject({ ok: false, status: 401 });
    expect(a.reviews).toBe(1);
  });
});

describe('revocation and budgets of verified tokens', () => {
  it('a verified token whose pod was deleted is refused by its TokenReview; pre-1.30 tokens read their pod', async () => {
    const a = await authenticator();
    const token = issue({ nodeName: 'node-r', podName: 'agent-r', podUid: 'uid-r' });
    expect(await a.authenticate(token, 'node-r')).toMatchObject({ ok: true });
    const deleted = issue({ nodeName: 'node-r', podName: 'agent-gone', podUid: 'uid-gone' });
    emu.tokens.revoke(deleted);
    expect(await a.authenticate(deleted, 'node-r')).toMatchObject({
      ok: false,
      status: 401,
      reason: expect.stringMatching(/not authenticated/),
    });
    emu.pods.put(makePod(SA.namespace, 'agent-old', 'node-o', 'uid-o'));
    const podBound = issue({ omitNodeName: true, podName: 'agent-old', podUid: 'uid-o' });
    expect(await a.authenticate(podBound, 'node-o')).toMatchObject({ ok: true });
    expect(await a.authenticate(podBound, 'node-x')).toMatchObject({ ok: false, status: 403 });
    emu.pods.delete('agent-old', SA.namespace);
    expect(await a.authenticate(podBound, 'node-o')).toMatchObject({ ok: false, status: 403 });
    const unbound = issue({});
    expect(await a.authenticate(unbound, 'node-o')).toMatchObject({ ok: false, status: 403 });
    expect(a.reviews).toBe(3);
  });

  it('each node has its own review budget: one node spending it does not touch another', async () => {
    const a = await authenticator({ nodeBudget: { qps: 0.1, burst: 3 } });
    const noisy = Array.from({ length: 5 }, () => issue({ nodeName: 'noisy' }));
    const outcomes = [];
    for (const t of noisy) outcomes.push((await a.authenticate(t, 'noisy')).ok);
    expect(outcomes).toEqual([true, true, true, false, false]);
    const limited = await a.authenticate(noisy[4]!, 'noisy');
    expect(limited).toMatchObject({ ok: false, status: 503, reason: expect.stringMatching(/noisy/) });
    expect(await a.authenticate(issue({ nodeName: 'quiet' }), 'quiet')).toMatchObject({ ok: true });
    // A reviewed token is cached: not limited.
    expect(await a.authenticate(noisy[0]!, 'noisy')).toMatchObject({ ok: true });
    clock += 10_000;
    expect(await a.authenticate(noisy[3]!, 'noisy')).toMatchObject({ ok: true });
    expect(a.reviews).toBe(5);
  });

  it('through the server: a limited review is 503 with Retry-After', async () => {
    const a = await authenticator({ nodeBudget: { qps: 0.1, burst: 1 } });
    const t = await makeApp({ authenticator: a });
    try {
      const post = (token: string) =>
        postReport(t.app, sampleReport('n1'), { authorization: `Bearer ${token}` });
      expect((await post(issue({ nodeName: 'n1' }))).statusCode).toBe(202);
      const limited = await post(issue({ nodeName: 'n1' }));
      expect(limited.statusCode).toBe(503);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.app.close();
    }
  });
});

describe('issuer keys: rotation, refresh, fallback', () => {
  it('a rotated key is fetched once, on the first token that names it', async () => {
    const e = await emulator();
    const a = await authenticator({}, e);
    expect(await a.authenticate(issue({ nodeName: 'n' }, e), 'n')).toMatchObject({ ok: true });
    e.tokens.rotateKey({ algorithm: 'ES256' });
    const rotated = Array.from({ length: 3 }, () => issue({ nodeName: 'n' }, e));
    e.reset();
    for (const t of rotated) expect(await a.authenticate(t, 'n')).toMatchObject({ ok: true });
    expect(e.requestsBy('GET', JWKS).length).toBe(1);
    expect(a.localVerification()).toMatchObject({ active: true, keys: 2 });
  });

  it('keys are refreshed periodically: a retired key stops verifying', async () => {
    const e = await emulator();
    const a = await authenticator({ keysRefreshMs: 60_000 }, e);
    const old = issue({ nodeName: 'n' }, e);
    e.tokens.rotateKey({ retireOld: true });
    clock += 61_000;
    // This identify starts the refresh in the background; the next ones see the new keys.
    await a.identify(issue({ nodeName: 'n' }, e));
    for (let i = 0; i < 50 && a.localVerification().keys !== 1; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(a.localVerification()).toMatchObject({ active: true, keys: 1 });
    expect(await a.authenticate(old, 'n')).toMatchObject({ ok: false, status: 401 });
    expect(await a.authenticate(issue({ nodeName: 'n' }, e), 'n')).toMatchObject({ ok: true });
  });

  it('forged unknown key IDs refresh the keys at most once per 30 s, and only with plausible claims', async () => {
    const a = await authenticator();
    const genuine = issue({ nodeName: 'n' });
    const claims = JSON.parse(Buffer.from(genuine.split('.')[1]!, 'base64url').toString('utf8'));
    const key = generateSigningKey('ES256');
    emu.reset();
    // Claims we would refuse anyway: no signature check, no refresh.
    for (let i = 0; i < 5; i++) await a.authenticate(signJwt({ sub: 'x' }, key, { kid: `junk-${i}` }), 'n');
    expect(emu.requestsBy('GET', JWKS).length).toBe(0);
    const forged = (i: number) => signJwt(claims, key, { kid: `forged-${i}` });
    for (let i = 0; i < 20; i++) expect((await a.authenticate(forged(i), 'n')).ok).toBe(false);
    expect(emu.requestsBy('GET', JWKS).length).toBe(1);
    clock += 30_000;
    for (let i = 0; i < 5; i++) await a.authenticate(forged(100 + i), 'n');
    expect(emu.requestsBy('GET', JWKS).length).toBe(2);
    expect(apiCalls(emu)).toBe(0);
  });

  it('without the keys (RBAC missing): TokenReview alone under the shared budget, said once; back when they are', async () => {
    const e = await emulator();
    const forbidden = e.inject({ path: JWKS, status: 403, times: Infinity });
    const logger = recordingLogger();
    const registry = new Registry();
    const a = await authenticator({ logger, registry }, e);
    expect(a.localVerification()).toMatchObject({ active: false, reason: expect.stringMatching(/403/) });
    expect(a.describe()).toMatch(
      /TokenReview .* alone: the service-account issuer keys are unavailable \(HTTP 403/,
    );
    const gauge = async () =>
      (await registry.getSingleMetric('osmo_validator_auth_local_verification')?.get())?.values[0]?.value;
    expect(await gauge()).toBe(0);
    // Today's behaviour: a JWT-shaped forgery costs a TokenReview; a genuine token is accepted.
    const forged = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(`{"exp":${clock / 1000 + 60}}`).toString('base64url')}.c2ln`;
    expect(await a.authenticate(forged, 'n')).toMatchObject({ ok: false, status: 401 });
    expect(await a.authenticate(issue({ nodeName: 'n' }, e), 'n')).toMatchObject({ ok: true });
    expect(reviewsOf(e)).toBe(2);
    // Retried at most every 30 s, and said once.
    for (let i = 0; i < 3; i++) await a.identify(issue({ nodeName: 'n' }, e));
    expect(e.requestsBy('GET', JWKS).length).toBe(1);
    const warned = logger.lines.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toMatch(/unavailable: every agent token goes to TokenReview/);

    forbidden.cancel();
    clock += 30_000;
    await a.identify(issue({ nodeName: 'n' }, e)); // starts the retry in the background
    for (let i = 0; i < 50 && !a.localVerification().active; i++) await new Promise((r) => setTimeout(r, 10));
    expect(a.localVerification().active).toBe(true);
    expect(await gauge()).toBe(1);
    expect(
      logger.lines.filter((l) => l.level === 'info' && /verified locally/.test(l.msg ?? '')),
    ).toHaveLength(1);
    e.reset();
    expect(await a.authenticate(forged, 'n')).toMatchObject({ ok: false, status: 401 });
    expect(reviewsOf(e)).toBe(0);
  });

  it('without a logger, the fallback is reported once through onError (as the command wires it today)', async () => {
    const e = await emulator({ issuerDiscovery: false });
    const errors: string[] = [];
    const a = await authenticator({ onError: (err, what) => errors.push(`${what}: ${String(err)}`) }, e);
    await a.identify(issue({ nodeName: 'n' }, e));
    clock += 60_000;
    await a.identify(issue({ nodeName: 'n' }, e));
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^service-account issuer discovery: .*HTTP 404/);
  });

  it('keys fetched once stay in use when a refresh fails', async () => {
    const e = await emulator();
    const logger = recordingLogger();
    const a = await authenticator({ keysRefreshMs: 60_000, logger }, e);
    e.inject({ path: DISCOVERY, status: 500, times: Infinity });
    clock += 61_000;
    await a.identify(issue({ nodeName: 'n' }, e));
    await new Promise((r) => setTimeout(r, 50));
    expect(a.localVerification()).toMatchObject({ active: true, keys: 1 });
    expect(await a.authenticate(issue({ nodeName: 'n' }, e), 'n')).toMatchObject({ ok: true });
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'cannot refresh the service-account issuer keys; the keys fetched before stay in use',
    ]);
  });
});

describe('refusals are logged cheaply', () => {
  it('each at debug, counted by reason in the metrics next to the accepted ones', async () => {
    const logger = recordingLogger();
    const registry = new Registry();
    const a = await authenticator({ logger, registry });
    const before = logger.lines.length;
    for (let i = 0; i < 5; i++) await a.authenticate(`x.y.z${i}`, 'n');
    await a.authenticate(issue({ nodeName: 'm' }), 'n');
    const genuine = issue({ nodeName: 'n' });
    expect(await a.authenticate(genuine, 'n')).toMatchObject({ ok: true });
    expect(await a.authenticate(genuine, 'n')).toMatchObject({ ok: true });
    const lines = logger.lines.slice(before);
    expect(lines.map((l) => [l.level, l.obj['reason']])).toEqual([
      ...new Array(5).fill(['debug', 'malformed']),
      ['debug', 'wrong-node'],
    ]);
    const outcomes = await registry.getSingleMetric('osmo_validator_token_verifications_total')?.get();
    const byResult = Object.fromEntries((outcomes?.values ?? []).map((v) => [v.labels['result'], v.value]));
    // The warm-up token of authenticator() is the first malformed one.
    expect(byResult).toEqual({ malformed: 6, 'wrong-node': 1, accepted: 2 });
  });
});
