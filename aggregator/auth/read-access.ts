// Who may read the API (GET /api/v1/*) and /metrics. Three modes, one interface:
// - open (--read-open, --metrics-open for /metrics only): anyone;
// - a read token (--read-token-file): one shared bearer token, compared in constant time, fail closed;
// - Kubernetes (default in a cluster): the bearer is a Kubernetes token, authenticated by a TokenReview
//   (the API server's own audiences) and authorized by a SubjectAccessReview of verb `get` on the virtual
//   resource `results` (API) or `metrics` (/metrics) in group validator.osmo.nvidia.com, as kube-rbac-proxy
//   does. A resource attribute, not a non-resource URL: every authenticated identity may `get` the
//   non-resource URLs `/api/*` through the built-in system:discovery role. Decisions are cached (allowed
//   60 s, refused 10 s, never past 10,000 entries) and uncached ones come out of one rate budget, so
//   garbage tokens cost at most that budget of API calls.
import { createHash } from 'node:crypto';
import type { KubeConfig, V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import { errorMessage } from '../../report/error-message.js';
import { TokenBucket } from '../k8s/rate-limit.js';
import type { TokenFile } from './token-file.js';

export type ReadTarget = 'api' | 'metrics';

export type ReadDecision =
  | { ok: true; identity: string }
  | { ok: false; status: 401 | 403 | 503; reason: string; retryAfterSeconds?: number };

export interface ReadAccess {
  check(token: string | undefined, target: ReadTarget): Promise<ReadDecision>;
  describe(): string;
}

/** The SubjectAccessReview asked for each target: what the shipped reader ClusterRoles grant. */
export const READ_ACCESS_GROUP = 'validator.osmo.nvidia.com';
export const READ_ACCESS_RESOURCES: Record<ReadTarget, string> = { api: 'results', metrics: 'metrics' };
export const READ_ACCESS_VERB = 'get';

const ALLOWED_TTL_MS = 60_000;
const REFUSED_TTL_MS = 10_000;
const MAX_CACHED = 10_000;
/** Longest bearer token reviewed at all; longer ones are refused without an API call. */
const MAX_TOKEN_LENGTH = 8192;
export const DEFAULT_READ_REVIEW_QPS = 5;
export const DEFAULT_READ_REVIEW_BURST = 20;

const MISSING: ReadDecision = { ok: false, status: 401, reason: 'missing bearer token' };

export class OpenReads implements ReadAccess {
  async check(): Promise<ReadDecision> {
    return { ok: true, identity: 'anyone' };
  }
  describe(): string {
    return 'open (--read-open)';
  }
}

export class ReadTokenAccess implements ReadAccess {
  private readonly token: TokenFile;
  constructor(token: TokenFile) {
    this.token = token;
  }
  async check(token: string | undefined, _target?: ReadTarget): Promise<ReadDecision> {
    if (token === undefined) return MISSING;
    switch (this.token.matches(token)) {
      case 'match':
        return { ok: true, identity: 'read-token' };
      case 'mismatch':
        return { ok: false, status: 401, reason: 'invalid bearer token' };
      case 'unavailable':
        return { ok: false, status: 503, reason: 'the read token file is unusable', retryAfterSeconds: 30 };
    }
  }
  describe(): string {
    return `read token from ${this.token.file}`;
  }
}

/** /metrics open, everything else as `inner` decides. */
export class MetricsOpen implements ReadAccess {
  private readonly inner: ReadAccess;
  constructor(inner: ReadAccess) {
    this.inner = inner;
  }
  check(token: string | undefined, target: ReadTarget): Promise<ReadDecision> {
    return target === 'metrics'
      ? Promise.resolve({ ok: true, identity: 'anyone' })
      : this.inner.check(token, target);
  }
  describe(): string {
    return `${this.inner.describe()}; /metrics open`;
  }
}

export interface AccessReviewApis {
  createTokenReview(param: { body: V1TokenReview }): Promise<V1TokenReview>;
  createSubjectAccessReview(param: { body: V1SubjectAccessReview }): Promise<V1SubjectAccessReview>;
}

export async function accessReviewApisFrom(kc: KubeConfig): Promise<AccessReviewApis> {
  const k8s = await import('@kubernetes/client-node');
  const authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  return {
    createTokenReview: (p) => authn.createTokenReview(p),
    createSubjectAccessReview: (p) => authz.createSubjectAccessReview(p),
  };
}

export interface KubernetesReadAccessOptions {
  apis: AccessReviewApis;
  limiter?: TokenBucket;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class KubernetesReadAccess implements ReadAccess {
  private readonly apis: AccessReviewApis;
  private readonly limiter: TokenBucket;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly cache = new Map<string, { decision: ReadDecision; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<ReadDecision>>();

  constructor(options: KubernetesReadAccessOptions) {
    this.apis = options.apis;
    this.limiter = options.limiter ?? new TokenBucket(DEFAULT_READ_REVIEW_QPS, DEFAULT_READ_REVIEW_BURST);
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
  }

  describe(): string {
    return `Kubernetes RBAC: ${READ_ACCESS_VERB} ${READ_ACCESS_RESOURCES.api} (API) / ${READ_ACCESS_RESOURCES.metrics} (/metrics) in ${READ_ACCESS_GROUP}`;
  }

  async check(token: string | undefined, target: ReadTarget): Promise<ReadDecision> {
    if (token === undefined) return MISSING;
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, status: 401, reason: 'invalid bearer token' };
    const key = `${target}:${createHash('sha256').update(token, 'utf8').digest('base64url')}`;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expiresAt > this.now()) return cached.decision;
    this.cache.delete(key);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    if (!this.limiter.tryTake()) {
      const retryAfterSeconds = Math.max(1, Math.ceil(this.limiter.waitMs() / 1000));
      return {
        ok: false,
        status: 503,
        reason: 'too many read access reviews; retry later',
        retryAfterSeconds,
      };
    }
    const review = this.review(token, target).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, review);
    const decision = await review;
    if (decision.ok || decision.status !== 503) this.remember(key, decision);
    return decision;
  }

  private remember(key: string, decision: ReadDecision): void {
    if (this.cache.size >= MAX_CACHED) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, {
      decision,
      expiresAt: this.now() + (decision.ok ? ALLOWED_TTL_MS : REFUSED_TTL_MS),
    });
  }

  /** TokenReview, then SubjectAccessReview for that user; an API failure is 503 (not cached). */
  private async review(token: string, target: ReadTarget): Promise<ReadDecision> {
    try {
      const tr = await this.apis.createTokenReview({ body: { spec: { token } } });
      const user = tr.status?.user;
      if (tr.status?.authenticated !== true || !user?.username) {
        return { ok: false, status: 401, reason: 'invalid bearer token' };
      }
      const sar = await this.apis.createSubjectAccessReview({
        body: {
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: {
              verb: READ_ACCESS_VERB,
              group: READ_ACCESS_GROUP,
              resource: READ_ACCESS_RESOURCES[target],
            },
          },
        },
      });
      if (sar.status?.allowed !== true) {
        const what = `${READ_ACCESS_VERB} ${READ_ACCESS_RESOURCES[target]}.${READ_ACCESS_GROUP}`;
        return { ok: false, status: 403, reason: `${user.username} may not ${what}` };
      }
      return { ok: true, identity: user.username };
    } catch (err) {
      this.onError(err);
      return {
        ok: false,
        status: 503,
        reason: `read access review failed: ${errorMessage(err, { firstLine: true }).slice(0, 200)}`,
        retryAfterSeconds: 5,
      };
    }
  }
}
