// In-cluster authentication: the agent's projected ServiceAccount token is checked with a TokenReview
// (audience-bound), must belong to the agent ServiceAccount, and must be bound to the node the report is
// for: from the token's node-name claim (Kubernetes >= 1.30), else via the pod it is bound to.
import { createHash } from 'node:crypto';
import type { KubeConfig, V1Pod, V1TokenReview } from '@kubernetes/client-node';
import type { AuthOutcome } from '../contracts.js';
import { apiStatus } from '../k8s/api-errors.js';
import { type NamespacedName, parseNamespacedName } from '../k8s/namespaced-name.js';
import { TokenBucket } from '../k8s/rate-limit.js';
import {
  authenticateStaged,
  type Identification,
  type Principal,
  type StagedAuthenticator,
} from './staged.js';

export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
export const DEFAULT_TOKEN_AUDIENCE = 'osmo-node-validator';
export const DEFAULT_AGENT_SERVICE_ACCOUNT = 'osmo-node-validator/osmo-node-validator-agent';
/** TokenReview calls per second (and burst) this process may make; excess reports get 503 + Retry-After. */
export const DEFAULT_TOKEN_REVIEW_QPS = 50;
export const DEFAULT_TOKEN_REVIEW_BURST = 100;
/** How long a refused token is refused without asking the API server again. */
export const NEGATIVE_CACHE_TTL_MS = 30_000;

/** The two API calls used, as narrow interfaces so they can be faked. */
export interface TokenReviewApi {
  createTokenReview(param: { body: V1TokenReview }): Promise<V1TokenReview>;
}
export interface PodReader {
  readNamespacedPod(param: { name: string; namespace: string }): Promise<V1Pod>;
}

export type ServiceAccountRef = NamespacedName;

export interface TokenReviewOptions {
  api: TokenReviewApi;
  pods: PodReader;
  audience?: string;
  serviceAccount?: ServiceAccountRef;
  /** Bound on cached reviews (LRU). Default 10,000. */
  cacheSize?: number;
  /** A cached review is reused at most this long, and never past the token's `exp`. Default 5 min. */
  maxTtlMs?: number;
  now?: () => number;
  onError?: (err: unknown, what: string) => void;
  /**
   * Refuse, without a TokenReview, tokens that are not JWTs (three base64url segments) or whose `exp` has
   * passed. Projected ServiceAccount tokens always are JWTs. The aggregator command turns it on; the default
   * (off) serves tests whose API double issues opaque tokens.
   */
  jwtOnly?: boolean;
  /** Bounds the TokenReview calls (default 50 QPS, burst 100). */
  limiter?: TokenBucket;
  /** Bound on cached refusals (oldest dropped first). Default 10,000. */
  negativeCacheSize?: number;
}

interface CachedRefusal {
  outcome: { ok: false; status: 401 | 403; reason: string };
  until: number;
}

interface CachedReview {
  username: string;
  /**
   * From the node-name claim (>= 1.30). Pod-bound tokens (older clusters) leave it undefined: their pod is
   * read on every report, so a deleted pod's token stops working at once, not when the cache expires.
   */
  nodeName: string | undefined;
  pod: { name: string; uid: string } | undefined;
  expiresAt: number;
}

/** Build the API clients from a kubeconfig. */
export async function tokenReviewApisFrom(kc: KubeConfig): Promise<{ api: TokenReviewApi; pods: PodReader }> {
  const k8s = await import('@kubernetes/client-node');
  return { api: kc.makeApiClient(k8s.AuthenticationV1Api), pods: kc.makeApiClient(k8s.CoreV1Api) };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A cheap look at a bearer token before any API call, decoded WITHOUT trusting it (the TokenReview decides
 * whether it is genuine): not a JWT (three base64url segments, JSON header and claims) or already expired
 * → a reason to refuse it. A forged future `exp` gains nothing: the review still runs.
 */
export function precheckToken(token: string, nowMs: number): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) {
    return 'malformed bearer token: not a JWT';
  }
  const header = decodeSegment(parts[0]!);
  const claims = decodeSegment(parts[1]!);
  if (!header || !claims) return 'malformed bearer token: not a JWT';
  if (typeof claims['exp'] === 'number' && claims['exp'] * 1000 <= nowMs) return 'token expired';
  return undefined;
}

/** The JWT's `exp` in ms, decoded without verification: only used to bound how long a review is cached. */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (claims && typeof claims === 'object' && 'exp' in claims && typeof claims.exp === 'number') {
      return claims.exp * 1000;
    }
  } catch {
    // Not a JWT we can read: fall back to the max TTL.
  }
  return undefined;
}

export class TokenReviewAuthenticator implements StagedAuthenticator {
  private readonly api: TokenReviewApi;
  private readonly pods: PodReader;
  private readonly audience: string;
  private readonly sa: ServiceAccountRef;
  private readonly username: string;
  private readonly cacheSize: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown, what: string) => void;
  private readonly cache = new Map<string, CachedReview>();
  private readonly inflight = new Map<string, Promise<Identification>>();
  private readonly refused = new Map<string, CachedRefusal>();
  private readonly negativeCacheSize: number;
  private readonly jwtOnly: boolean;
  private readonly limiter: TokenBucket;
  /** How many TokenReviews were sent (for tests and metrics). */
  reviews = 0;

  constructor(options: TokenReviewOptions) {
    this.api = options.api;
    this.pods = options.pods;
    this.audience = options.audience ?? DEFAULT_TOKEN_AUDIENCE;
    this.sa = options.serviceAccount ?? parseNamespacedName(DEFAULT_AGENT_SERVICE_ACCOUNT);
    this.username = `system:serviceaccount:${this.sa.namespace}:${this.sa.name}`;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.maxTtlMs = options.maxTtlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    this.jwtOnly = options.jwtOnly ?? false;
    this.limiter = options.limiter ?? new TokenBucket(DEFAULT_TOKEN_REVIEW_QPS, DEFAULT_TOKEN_REVIEW_BURST);
    this.negativeCacheSize = options.negativeCacheSize ?? 10_000;
  }

  describe(): string {
    return `TokenReview (audience ${this.audience}, ServiceAccount ${this.sa.namespace}/${this.sa.name})`;
  }

  cacheSizeNow(): number {
    return this.cache.size;
  }

  async identify(token: string | undefined): Promise<Identification> {
    if (token === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
    if (this.jwtOnly) {
      const bad = precheckToken(token, this.now());
      if (bad) return { ok: false, status: 401, reason: bad };
    }
    const key = createHash('sha256').update(token, 'utf8').digest('base64url');
    const refusal = this.refused.get(key);
    if (refusal) {
      if (refusal.until > this.now()) return refusal.outcome;
      this.refused.delete(key);
    }
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > this.now()) {
      // Refresh LRU position.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return { ok: true, principal: this.principal(cached) };
    }
    if (cached) this.cache.delete(key);
    // Concurrent requests with the same token share one review.
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.review(token, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  authenticate(token: string | undefined, node: string): Promise<AuthOutcome> {
    return authenticateStaged(this, token, node);
  }

  private async review(token: string, key: string): Promise<Identification> {
    const outcome = await this.reviewOnce(token, key);
    if (!outcome.ok && outcome.status !== 503) {
      // A refused token is refused again for a while without another API call (agents retry, attackers loop).
      this.refused.set(key, {
        outcome: { ...outcome, status: outcome.status },
        until: this.now() + NEGATIVE_CACHE_TTL_MS,
      });
      while (this.refused.size > this.negativeCacheSize) {
        const oldest = this.refused.keys().next().value;
        if (oldest === undefined) break;
        this.refused.delete(oldest);
      }
    }
    return outcome;
  }

  private async reviewOnce(token: string, key: string): Promise<Identification> {
    if (!this.limiter.tryTake()) {
      const retryAfterSeconds = Math.max(1, Math.ceil(this.limiter.waitMs() / 1000));
      return {
        ok: false,
        status: 503,
        reason: 'too many token reviews right now; retry later',
        retryAfterSeconds,
      };
    }
    let review: V1TokenReview;
    try {
      this.reviews++;
      review = await this.api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [this.audience] },
        },
      });
    } catch (err) {
      this.onError(err, 'TokenReview');
      return { ok: false, status: 503, reason: 'cannot review the token: Kubernetes API unavailable' };
    }
    const status = review.status;
    if (!status?.authenticated) {
      return {
        ok: false,
        status: 401,
        reason: `token not authenticated${status?.error ? `: ${status.error}` : ''}`,
      };
    }
    if (!status.audiences?.includes(this.audience)) {
      return { ok: false, status: 401, reason: `token audience is not ${this.audience}` };
    }
    const username = status.user?.username ?? '';
    if (username !== this.username) {
      return {
        ok: false,
        status: 403,
        reason: `${username || 'this identity'} is not the agent ServiceAccount`,
      };
    }
    const extra = status.user?.extra ?? {};
    const podName = extra[POD_NAME_EXTRA]?.[0];
    const podUid = extra[POD_UID_EXTRA]?.[0];
    const entry: CachedReview = {
      username,
      nodeName: extra[NODE_NAME_EXTRA]?.[0],
      pod: podName && podUid ? { name: podName, uid: podUid } : undefined,
      expiresAt: Math.min(this.now() + this.maxTtlMs, tokenExpiryMs(token) ?? Number.POSITIVE_INFINITY),
    };
    if (entry.expiresAt > this.now()) {
      this.cache.set(key, entry);
      while (this.cache.size > this.cacheSize) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
    }
    return { ok: true, principal: this.principal(entry) };
  }

  private principal(entry: CachedReview): Principal {
    return { identity: entry.username, authorize: (node) => this.authorize(entry, node) };
  }

  private async authorize(entry: CachedReview, node: string): Promise<AuthOutcome> {
    let boundNode = entry.nodeName;
    if (boundNode === undefined && entry.pod) {
      // Before 1.30 the token names only its pod: the pod's UID must match and its node is the binding.
      let pod: V1Pod;
      try {
        pod = await this.pods.readNamespacedPod({ name: entry.pod.name, namespace: this.sa.namespace });
      } catch (err) {
        if (apiStatus(err) === 404) {
          return { ok: false, status: 403, reason: `the token's pod ${entry.pod.name} no longer exists` };
        }
        this.onError(err, 'read pod');
        return { ok: false, status: 503, reason: "cannot read the token's pod: Kubernetes API unavailable" };
      }
      if (pod.metadata?.uid !== entry.pod.uid) {
        return {
          ok: false,
          status: 403,
          reason: `the token's pod ${entry.pod.name} was replaced (UID mismatch)`,
        };
      }
      if (!pod.spec?.nodeName) {
        return { ok: false, status: 403, reason: `the token's pod ${entry.pod.name} is not scheduled` };
      }
      boundNode = pod.spec.nodeName;
    }
    if (boundNode === undefined) {
      return { ok: false, status: 403, reason: 'the token is not bound to a node or pod' };
    }
    if (boundNode !== node) {
      return { ok: false, status: 403, reason: `token of node ${boundNode} may not report for ${node}` };
    }
    return { ok: true, identity: `${entry.username}@${boundNode}` };
  }
}
