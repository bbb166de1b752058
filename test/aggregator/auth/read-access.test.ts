// Read access: Kubernetes identities through TokenReview + SubjectAccessReview against the API emulator
// (real client), the read token file, open modes; and through the server: one hook on the read routes.
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessReviewApisFrom,
  KubernetesReadAccess,
  MetricsOpen,
  READ_ACCESS_GROUP,
  ReadTokenAccess,
} from '../../../aggregator/auth/read-access.js';
import { TokenFile } from '../../../aggregator/auth/token-file.js';
import { TokenBucket } from '../../../aggregator/k8s/rate-limit.js';
import { type K8sEmulator, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';
import { auth, makeApp, postReport, sampleReport, TOKEN, tokenFile } from '../harness.js';

let emu: K8sEmulator;
beforeAll(async () => {
  emu = await startK8sEmulator();
  emu.accessReviews.allow({
    subject: 'alice',
    verb: 'get',
    apiGroup: READ_ACCESS_GROUP,
    resource: 'results',
  });
  emu.accessReviews.allow({
    subject: 'system:serviceaccount:monitoring:prometheus',
    verb: 'get',
    apiGroup: READ_ACCESS_GROUP,
    resource: 'metrics',
  });
});
afterAll(async () => {
  await emu.close();
});

const frozen = { now: () => 0, sleep: async () => {} };

describe('KubernetesReadAccess', () => {
  it('401 without or with an unknown token, 403 when RBAC says no, allowed when it says yes', async () => {
    const access = new KubernetesReadAccess({ apis: await accessReviewApisFrom(emu.kubeConfig()) });
    const alice = emu.tokens.issue({ username: 'alice' });
    const bob = emu.tokens.issue({ username: 'bob' });
    const prometheus = emu.tokens.issue({ serviceAccount: { namespace: 'monitoring', name: 'prometheus' } });
    expect(await access.check(undefined, 'api')).toMatchObject({ ok: false, status: 401 });
    expect(await access.check('not-a-token', 'api')).toMatchObject({ ok: false, status: 401 });
    expect(await access.check(bob, 'api')).toMatchObject({ ok: false, status: 403 });
    expect(await access.check(alice, 'api')).toEqual({ ok: true, identity: 'alice' });
    // The metrics-only role reads /metrics, not the API.
    expect(await access.check(prometheus, 'metrics')).toMatchObject({ ok: true });
    expect(await access.check(prometheus, 'api')).toMatchObject({ ok: false, status: 403 });
    expect(await access.check(alice, 'metrics')).toMatchObject({ ok: false, status: 403 });
    const last = emu.accessReviews.reviews.at(-1);
    expect(last?.attributes).toEqual({ verb: 'get', group: READ_ACCESS_GROUP, resource: 'metrics' });
  });

  it('caches decisions: the same token costs one review pair, refusals included', async () => {
    const access = new KubernetesReadAccess({ apis: await accessReviewApisFrom(emu.kubeConfig()) });
    const alice = emu.tokens.issue({ username: 'alice' });
    const bob = emu.tokens.issue({ username: 'bob' });
    const before = emu.accessReviews.reviews.length;
    for (let i = 0; i < 5; i++) {
      expect((await access.check(alice, 'api')).ok).toBe(true);
      expect((await access.check(bob, 'api')).ok).toBe(false);
    }
    expect(emu.accessReviews.reviews.length - before).toBe(2);
  });

  it('uncached decisions come out of one budget: beyond it 503 with Retry-After, no API call', async () => {
    const access = new KubernetesReadAccess({
      apis: await accessReviewApisFrom(emu.kubeConfig()),
      limiter: new TokenBucket(1, 3, frozen),
    });
    const reviews = emu.tokens.reviews.length;
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await access.check(`garbage-${i}`, 'api'));
    expect(answers.filter((a) => !a.ok && a.status === 401)).toHaveLength(3);
    const limited = answers.filter((a) => !a.ok && a.status === 503);
    expect(limited).toHaveLength(7);
    expect(limited[0]).toMatchObject({ retryAfterSeconds: 1 });
    expect(emu.tokens.reviews.length - reviews).toBe(3);
  });

  it('an unreachable API is 503, and not remembered', async () => {
    let fail = true;
    const apis = await accessReviewApisFrom(emu.kubeConfig());
    const access = new KubernetesReadAccess({
      apis: {
        ...apis,
        createTokenReview: (p) =>
          fail ? Promise.reject(new Error('connect ECONNREFUSED')) : apis.createTokenReview(p),
      },
    });
    const alice = emu.tokens.issue({ username: 'alice' });
    expect(await access.check(alice, 'api')).toMatchObject({ ok: false, status: 503 });
    fail = false;
    expect(await access.check(alice, 'api')).toMatchObject({ ok: true });
  });
});

describe('the read token file', () => {
  it('matches only its token; an emptied or deleted file refuses every read (503) until it is back', async () => {
    const file = tokenFile('reader-secret');
    const changes: Array<string | null> = [];
    const access = new ReadTokenAccess(
      new TokenFile({ file, recheckMs: 0, onChange: (p) => changes.push(p) }),
    );
    expect(await access.check('reader-secret', 'api')).toMatchObject({ ok: true });
    expect(await access.check('other', 'api')).toMatchObject({ ok: false, status: 401 });
    expect(await access.check(undefined, 'api')).toMatchObject({ ok: false, status: 401 });
    writeFileSync(file, '\n');
    expect(await access.check('reader-secret', 'api')).toMatchObject({ ok: false, status: 503 });
    rmSync(file);
    expect(await access.check('reader-secret', 'api')).toMatchObject({ ok: false, status: 503 });
    writeFileSync(file, 'reader-secret\n');
    expect(await access.check('reader-secret', 'api')).toMatchObject({ ok: true });
    // Said once when it became unusable (empty, then deleted: one transition), once when it came back.
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatch(/empty/);
    expect(changes[1]).toBeNull();
  });
});

describe('through the server', () => {
  it('every read route and /metrics need the token; health, readiness, OpenAPI and reports do not', async () => {
    const readAccess = new ReadTokenAccess(new TokenFile({ file: tokenFile('reader-secret') }));
    const { app } = await makeApp({ readAccess });
    expect((await postReport(app, sampleReport('node-a'))).statusCode).toBe(202);
    const reads = ['/api/v1/nodes', '/api/v1/nodes/node-a', '/api/v1/summary', '/api/v1/spec', '/metrics'];
    for (const url of reads) {
      const none = await app.inject({ method: 'GET', url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect((await app.inject({ method: 'GET', url, headers: auth(TOKEN) })).statusCode, url).toBe(401);
      expect((await app.inject({ method: 'GET', url, headers: auth('reader-secret') })).statusCode, url).toBe(
        200,
      );
    }
    for (const url of ['/healthz', '/readyz', '/openapi.json']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    for (const path of [
      '/api/v1/nodes',
      '/api/v1/nodes/{name}',
      '/api/v1/summary',
      '/api/v1/spec',
      '/metrics',
    ]) {
      expect(doc.paths[path]?.['get']?.security, path).toEqual([{ readBearer: [] }]);
    }
    expect(doc.paths['/healthz']?.['get']?.security).toEqual([]);
  });

  it('--metrics-open: /metrics without a token, the API still closed', async () => {
    const readAccess = new MetricsOpen(
      new ReadTokenAccess(new TokenFile({ file: tokenFile('reader-secret') })),
    );
    const { app } = await makeApp({ readAccess });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode).toBe(401);
  });
});
