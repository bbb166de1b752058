// In-cluster authentication of agents by their projected ServiceAccount token (audience-bound, of the
// agent ServiceAccount, bound to the node the report is for).
//
// Every token is first verified locally against the service-account issuer's keys (auth/jwks.ts,
// auth/service-account-token.ts): signature, issuer, audience, expiry, the ServiceAccount, and the node
// binding of the `kubernetes.io` claims (Kubernetes >= 1.30). A forged, expired or misdirected token is
// refused without any API call. A token that passes still gets a TokenReview, cached, because only the API
// server knows whether its pod has been deleted; those reviews come out of a small budget per node, so no
// node and no flood of tokens can use up another's. Pre-1.30 tokens name only their pod, which is read on
// every report. When the issuer's keys cannot be fetched (API down, RBAC missing) every token goes to
// TokenReview under the shared budget, as before local verification, and this is logged and exported.
import { hash } from 'node:crypto';
import type { KubeConfig, V1Pod, V1TokenReview } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { AuthOutcome, StructuredLogger } from '../contracts.js';
import { apiStatus } from '../k8s/api-errors.js';
import { type NamespacedName, parseNamespacedName } from '../k8s/namespaced-name.js';
import { TokenBucket } from '../k8s/rate-limit.js';
import { type AuthMetrics, createAuthMetrics } from './auth-metrics.js';
import { type IssuerDiscovery, IssuerKeys, type IssuerKeysState } from './jwks.js';
import { NodeBudget } from './node-budget.js';
import { RefusalLog } from './refusal-log.js';
import {
  checkClaims,
  decodeJwt,
  type ServiceAccountClaims,
  type VerificationKey,
  verifySignature,
} from './service-account-token.js';
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
/** How long the first reports wait for the issuer's keys before falling back to TokenReview alone. */
export const DEFAULT_KEYS_WAIT_MS = 3_000;

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
  /** Where the issuer's keys come from (tokenReviewApisFrom gives it); absent = TokenReview alone. */
  discovery?: IssuerDiscovery;
  audience?: string;
  serviceAccount?: ServiceAccountRef;
  /** Bound on cached reviews (LRU). Default 10,000. */
  cacheSize?: number;
  /** A cached review is reused at most this long, and never past the token's `exp`. Default 5 min. */
  maxTtlMs?: number;
  now?: () => number;
  onError?: (err: unknown, what: string) => void;
  /**
   * Without the issuer's keys: refuse, without a TokenReview, tokens that are not JWTs (three base64url
   * segments) or whose `exp` has passed. Projected ServiceAccount tokens always are JWTs. The aggregator
   * command turns it on; the default (off) serves tests whose API double issues opaque tokens. With the
   * keys, only verified JWTs get that far anyway.
   */
  jwtOnly?: boolean;
  /** Bounds all TokenReview calls together (default 50 QPS, burst 100). */
  limiter?: TokenBucket;
  /** API calls (TokenReview, pod reads) per node for verified tokens. Default 0.1/s, burst 5. */
  nodeBudget?: { qps: number; burst: number };
  /** Bound on cached refusals (oldest dropped first). Default 10,000. */
  negativeCacheSize?: number;
  /** How long the first reports wait for the first key fetch (default 3 s). */
  keysWaitMs?: number;
  /** Issuer key refresh: period (default 10 min) and least interval, e.g. for unknown key IDs (30 s). */
  keysRefreshMs?: number;
  keysMinRefreshMs?: number;
  /** Refusals at debug with a summary a minute at info; key state changes. Absent: onError only. */
  logger?: StructuredLogger;
  /** Registers the authentication metrics (auth/auth-metrics.ts) here. */
  registry?: Registry;
}

interface CachedRefusal {
  outcome: { ok: false; status: 401 | 403; reason: string };
  label: string;
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
  /** Built on the first cache hit and shared by every later one (no object per report). */
  principal?: Principal;
  /** A node-bound token's acceptance, built once. */
  accepted?: AuthOutcome;
  /** identify()'s answer on a hit, built once. */
  identified?: Identification;
  /** Its key in the cache, and when it last moved to the cache's young end (remember, touch). */
  key?: string;
  touchedAt?: number;
}

/**
 * A hit moves its review to the cache's young end (LRU) at most this often. The order only decides which
 * review is dropped when the cache is full; a node reports about once a minute, so ten seconds' resolution
 * keeps it, and a burst of one token's reports costs no map churn and no new key kept per report.
 */
export const LRU_TOUCH_MS = 10_000;

type Refusal = { ok: false; status: 401 | 403 | 503; reason: string; retryAfterSeconds?: number };
/** A review's answer; a refusal carries its label for the refusal log and metrics. */
type ReviewResult = { ok: true; entry: CachedReview } | { ok: false; outcome: Refusal; label: string };

/** Build the API clients from a kubeconfig. */
export async function tokenReviewApisFrom(
  kc: KubeConfig,
): Promise<{ api: TokenReviewApi; pods: PodReader; discovery: IssuerDiscovery }> {
  const k8s = await import('@kubernetes/client-node');
  const wellKnown = kc.makeApiClient(k8s.WellKnownApi);
  const openid = kc.makeApiClient(k8s.OpenidApi);
  return {
    api: kc.makeApiClient(k8s.AuthenticationV1Api),
    pods: kc.makeApiClient(k8s.CoreV1Api),
    discovery: {
      openIdConfiguration: () => wellKnown.getServiceAccountIssuerOpenIDConfiguration(),
      keySet: () => openid.getServiceAccountIssuerOpenIDKeyset(),
    },
  };
}

/**
 * A cheap look at a bearer token before any API call, decoded WITHOUT trusting it: not a JWT (three
 * base64url segments, JSON header and claims) or already expired → a reason to refuse it. Used when the
 * issuer's keys are not available; a forged future `exp` gains nothing: the review still runs.
 */
export function precheckToken(token: string, nowMs: number): string | undefined {
  return precheck(token, nowMs)?.reason;
}

function precheck(token: string, nowMs: number): { label: string; reason: string } | undefined {
  const jwt = decodeJwt(token);
  if (!jwt.ok) return { label: jwt.refusal, reason: jwt.reason };
  const exp = jwt.value.claims['exp'];
  if (typeof exp === 'number' && exp * 1000 <= nowMs) return { label: 'expired', reason: 'token expired' };
  return undefined;
}

/** The JWT's `exp` in ms, decoded without verification: only used to bound how long a review is cached. */
export function tokenExpiryMs(token: string): number | undefined {
  const jwt = decodeJwt(token);
  const exp = jwt.ok ? jwt.value.claims['exp'] : undefined;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

const digest = (token: string) => hash('sha256', token, 'base64url');

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
  private readonly inflight = new Map<string, Promise<ReviewResult>>();
  private readonly refused = new Map<string, CachedRefusal>();
  private readonly negativeCacheSize: number;
  private readonly jwtOnly: boolean;
  private readonly limiter: TokenBucket;
  private readonly nodeBudget: NodeBudget;
  private readonly keys: IssuerKeys | null;
  private readonly keysWaitMs: number;
  private readonly log: StructuredLogger | undefined;
  private readonly metrics: AuthMetrics | undefined;
  private readonly refusals: RefusalLog;
  /** The `accepted` child of the verifications counter, looked up once (not a label hash per report). */
  private readonly acceptedCount: { inc(): void } | undefined;
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
    const clock = { now: this.now, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };
    this.nodeBudget = new NodeBudget({ ...options.nodeBudget, clock });
    this.negativeCacheSize = options.negativeCacheSize ?? 10_000;
    this.keysWaitMs = options.keysWaitMs ?? DEFAULT_KEYS_WAIT_MS;
    this.log = options.logger;
    this.metrics = options.registry ? createAuthMetrics(options.registry) : undefined;
    this.refusals = new RefusalLog({ logger: this.log, metrics: this.metrics });
    this.acceptedCount = this.metrics?.verifications.labels({ result: 'accepted' });
    this.keys = options.discovery
      ? new IssuerKeys({
          discovery: options.discovery,
          now: this.now,
          ...(options.keysRefreshMs !== undefined ? { refreshMs: options.keysRefreshMs } : {}),
          ...(options.keysMinRefreshMs !== undefined ? { minRefreshMs: options.keysMinRefreshMs } : {}),
          onChange: (next, prev) => this.keysChanged(next, prev),
        })
      : null;
    this.metrics?.localVerification.set(0);
    // Fetched at once, so the first reports (and the start-up log line) find the keys.
    void this.keys?.refresh();
  }

  describe(): string {
    const base = `TokenReview (audience ${this.audience}, ServiceAccount ${this.sa.namespace}/${this.sa.name})`;
    const state = this.keys?.state;
    if (!state) return base;
    if (state.kind === 'ready') {
      return `${base}, after local verification against ${state.keys.length} key(s) of issuer ${state.issuer}`;
    }
    if (state.kind === 'pending') return `${base}, after local verification (issuer keys being fetched)`;
    return `${base} alone: the service-account issuer keys are unavailable (${state.reason})`;
  }

  /** Whether tokens are verified locally now, and against what (readiness details, tests). */
  localVerification(): { active: boolean; issuer?: string; keys?: number; reason?: string } {
    const state = this.keys?.state;
    if (state?.kind === 'ready') return { active: true, issuer: state.issuer, keys: state.keys.length };
    if (state?.kind === 'unavailable') return { active: false, reason: state.reason };
    return { active: false, reason: state ? 'issuer keys being fetched' : 'no issuer discovery configured' };
  }

  cacheSizeNow(): number {
    return this.cache.size;
  }

  /** A cached token is answered at once (no promise); anything else is verified or reviewed. */
  identify(token: string | undefined): Identification | Promise<Identification> {
    if (token === undefined) return this.refuse('missing', 401, 'missing bearer token');
    const key = digest(token);
    const refusal = this.refused.get(key);
    if (refusal) {
      const { status, reason } = refusal.outcome;
      if (refusal.until > this.now()) return this.refuse(refusal.label, status, reason);
      this.refused.delete(key);
    }
    const cached = this.cache.get(key);
    const now = this.now();
    if (cached && cached.expiresAt > now) {
      if (now - (cached.touchedAt ?? 0) >= LRU_TOUCH_MS) {
        // Re-inserted under the key it was stored with: the digest just computed dies young.
        const stored = cached.key ?? key;
        this.cache.delete(stored);
        this.cache.set(stored, cached);
        cached.touchedAt = now;
      }
      cached.identified ??= { ok: true, principal: this.principal(cached) };
      return cached.identified;
    }
    if (cached) this.cache.delete(key);
    return this.identifyUncached(token, key);
  }

  private async identifyUncached(token: string, key: string): Promise<Identification> {
    const state = this.keys ? await this.keys.ready(this.keysWaitMs) : undefined;
    if (state?.kind === 'ready') return this.identifyLocally(token, key, state.issuer, state.keys);
    return this.identifyByReview(token, key);
  }

  authenticate(token: string | undefined, node: string): Promise<AuthOutcome> {
    return authenticateStaged(this, token, node);
  }

  /**
   * Claims, then signature, against the issuer's keys: no API call but a rate-limited key refresh for an
   * unknown key ID. The claims are checked first because it is cheap: a token they refuse would be refused
   * whatever its signature, and costs no signature check and no refresh.
   */
  private async identifyLocally(
    token: string,
    key: string,
    issuer: string,
    keys: readonly VerificationKey[],
  ): Promise<Identification> {
    const jwt = decodeJwt(token);
    if (!jwt.ok) return this.refuse(jwt.refusal, 401, jwt.reason);
    const expect = { issuer, audience: this.audience, serviceAccount: this.sa, nowMs: this.now() };
    const claims = checkClaims(jwt.value.claims, expect);
    if (!claims.ok) return this.refuse(claims.refusal, 401, claims.reason);
    let signed = verifySignature(jwt.value, keys);
    if (!signed.ok && signed.refusal === 'unknown-key' && (await this.keys!.refreshForUnknownKey())) {
      const state = this.keys!.state;
      // Same issuer only: the claims were checked against it.
      if (state.kind === 'ready' && state.issuer === issuer) signed = verifySignature(jwt.value, state.keys);
    }
    if (!signed.ok) return this.refuse(signed.refusal, 401, signed.reason);
    const verified = claims.value;
    return {
      ok: true,
      principal: {
        identity: verified.username,
        authorize: (node) => this.authorizeVerified(token, key, verified, node),
      },
    };
  }

  /** A verified token: its node binding first (no API call), then its revocation check (TokenReview). */
  private async authorizeVerified(
    token: string,
    key: string,
    verified: ServiceAccountClaims,
    node: string,
  ): Promise<AuthOutcome> {
    if (verified.nodeName !== undefined && verified.nodeName !== node) {
      return this.refuse('wrong-node', 403, `token of node ${verified.nodeName} may not report for ${node}`);
    }
    if (verified.nodeName === undefined && !verified.pod) {
      return this.refuse('not-bound', 403, 'the token is not bound to a node or pod');
    }
    const reviewed = await this.reviewShared(token, key, verified.nodeName ?? `pod:${verified.pod!.name}`);
    if (!reviewed.ok) return this.refuseWith(reviewed);
    return this.authorize(reviewed.entry, node);
  }

  /** Without the issuer's keys: everything the JWT pre-check lets through goes to TokenReview. */
  private async identifyByReview(token: string, key: string): Promise<Identification> {
    if (this.jwtOnly) {
      const bad = precheck(token, this.now());
      if (bad) return this.refuse(bad.label, 401, bad.reason);
    }
    const reviewed = await this.reviewShared(token, key, undefined);
    return reviewed.ok ? { ok: true, principal: this.principal(reviewed.entry) } : this.refuseWith(reviewed);
  }

  /** Concurrent requests with the same token share one review. */
  private reviewShared(token: string, key: string, budgetKey: string | undefined): Promise<ReviewResult> {
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.review(token, key, budgetKey).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async review(token: string, key: string, budgetKey: string | undefined): Promise<ReviewResult> {
    const result = await this.reviewOnce(token, budgetKey);
    if (result.ok) {
      this.remember(key, result.entry);
    } else if (result.outcome.status !== 503) {
      // A refused token is refused again for a while without another API call (agents retry, attackers loop).
      this.refused.set(key, {
        outcome: { ok: false, status: result.outcome.status, reason: result.outcome.reason },
        label: result.label,
        until: this.now() + NEGATIVE_CACHE_TTL_MS,
      });
      while (this.refused.size > this.negativeCacheSize) {
        const oldest = this.refused.keys().next().value;
        if (oldest === undefined) break;
        this.refused.delete(oldest);
      }
    }
    return result;
  }

  /**
   * One TokenReview, within the node's budget (verified tokens) and the shared one (all). A token the API
   * server does not authenticate — its pod deleted, its node gone, or never issued — is refused.
   */
  private async reviewOnce(token: string, budgetKey: string | undefined): Promise<ReviewResult> {
    const limited = this.takeBudget(budgetKey);
    if (limited) return limited;
    let review: V1TokenReview;
    try {
      this.reviews++;
      this.metrics?.tokenReviews.inc();
      review = await this.api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [this.audience] },
        },
      });
    } catch (err) {
      this.onError(err, 'TokenReview');
      const reason = 'cannot review the token: Kubernetes API unavailable';
      return { ok: false, outcome: { ok: false, status: 503, reason }, label: 'api-unavailable' };
    }
    const status = review.status;
    const fail = (label: string, statusCode: 401 | 403, reason: string): ReviewResult => ({
      ok: false,
      outcome: { ok: false, status: statusCode, reason },
      label,
    });
    if (!status?.authenticated) {
      return fail(
        'not-authenticated',
        401,
        `token not authenticated${status?.error ? `: ${status.error}` : ''}`,
      );
    }
    if (!status.audiences?.includes(this.audience)) {
      return fail('audience', 401, `token audience is not ${this.audience}`);
    }
    const username = status.user?.username ?? '';
    if (username !== this.username) {
      return fail('service-account', 401, `${username || 'this identity'} is not the agent ServiceAccount`);
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
    return { ok: true, entry };
  }

  /** A refusal when the node's budget (if any) or the shared TokenReview budget is spent. */
  private takeBudget(budgetKey: string | undefined): ReviewResult | undefined {
    const retry = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
    if (budgetKey !== undefined) {
      const own = this.nodeBudget.take(budgetKey);
      if (!own.ok) {
        const reason = `too many token reviews for ${budgetKey} right now; retry later`;
        const outcome: Refusal = {
          ok: false,
          status: 503,
          reason,
          retryAfterSeconds: retry(own.retryAfterMs),
        };
        return { ok: false, outcome, label: 'node-budget' };
      }
    }
    if (this.limiter.tryTake()) return undefined;
    const reason = 'too many token reviews right now; retry later';
    const outcome: Refusal = {
      ok: false,
      status: 503,
      reason,
      retryAfterSeconds: retry(this.limiter.waitMs()),
    };
    return { ok: false, outcome, label: 'review-budget' };
  }

  private remember(key: string, entry: CachedReview): void {
    const now = this.now();
    if (entry.expiresAt <= now) return;
    entry.key = key;
    entry.touchedAt = now;
    this.cache.set(key, entry);
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private principal(entry: CachedReview): Principal {
    entry.principal ??= { identity: entry.username, authorize: (node) => this.authorize(entry, node) };
    return entry.principal;
  }

  /** A node-bound token is answered at once; a pod-bound one once its pod is read (older clusters). */
  private authorize(entry: CachedReview, node: string): AuthOutcome | Promise<AuthOutcome> {
    if (entry.nodeName !== undefined) return this.bound(entry, entry.nodeName, node);
    if (entry.pod === undefined)
      return this.refuse('not-bound', 403, 'the token is not bound to a node or pod');
    return this.podNode(entry.pod).then((read) => (read.ok ? this.bound(entry, read.node, node) : read));
  }

  private bound(entry: CachedReview, boundNode: string, node: string): AuthOutcome {
    if (boundNode !== node) {
      return this.refuse('wrong-node', 403, `token of node ${boundNode} may not report for ${node}`);
    }
    this.acceptedCount?.inc();
    if (entry.accepted !== undefined && boundNode === entry.nodeName) return entry.accepted;
    const accepted: AuthOutcome = Object.freeze({ ok: true, identity: `${entry.username}@${boundNode}` });
    if (boundNode === entry.nodeName) entry.accepted = accepted; // a pod's node is read again each time
    return accepted;
  }

  /** Before 1.30 the token names only its pod: the pod's UID must match and its node is the binding. */
  private async podNode(pod: { name: string; uid: string }): Promise<{ ok: true; node: string } | Refusal> {
    if (!this.nodeBudget.take(`pod:${pod.name}`).ok) {
      return this.refuse('node-budget', 503, `too many pod reads for ${pod.name} right now; retry later`);
    }
    let found: V1Pod;
    try {
      found = await this.pods.readNamespacedPod({ name: pod.name, namespace: this.sa.namespace });
    } catch (err) {
      if (apiStatus(err) === 404) {
        return this.refuse('pod-gone', 403, `the token's pod ${pod.name} no longer exists`);
      }
      this.onError(err, 'read pod');
      return this.refuse('api-unavailable', 503, "cannot read the token's pod: Kubernetes API unavailable");
    }
    if (found.metadata?.uid !== pod.uid) {
      return this.refuse('pod-replaced', 403, `the token's pod ${pod.name} was replaced (UID mismatch)`);
    }
    if (!found.spec?.nodeName) {
      return this.refuse('pod-unscheduled', 403, `the token's pod ${pod.name} is not scheduled`);
    }
    return { ok: true, node: found.spec.nodeName };
  }

  /** Every refusal goes through here: logged at debug, counted, summarised at info once a minute. */
  private refuse<S extends 401 | 403 | 503>(
    label: string,
    status: S,
    reason: string,
  ): { ok: false; status: S; reason: string } {
    this.refusals.refused(label, status, reason);
    return { ok: false, status, reason };
  }

  private refuseWith(failure: { outcome: Refusal; label: string }): Refusal {
    this.refusals.refused(failure.label, failure.outcome.status, failure.outcome.reason);
    return failure.outcome;
  }

  private keysChanged(next: IssuerKeysState, prev: IssuerKeysState): void {
    this.metrics?.localVerification.set(next.kind === 'ready' ? 1 : 0);
    if (next.kind === 'ready' && next.refreshError !== undefined) {
      this.log?.warn(
        { err: next.refreshError, keys: next.keys.length },
        'cannot refresh the service-account issuer keys; the keys fetched before stay in use',
      );
    } else if (next.kind === 'ready') {
      this.log?.info(
        { issuer: next.issuer, keys: next.keys.length, after: prev.kind },
        'agent tokens are verified locally against the service-account issuer keys before any TokenReview',
      );
    } else if (next.kind === 'unavailable') {
      const msg =
        'service-account issuer keys unavailable: every agent token goes to TokenReview, under the shared budget, until they can be fetched';
      if (this.log) this.log.warn({ err: next.reason }, msg);
      else this.onError(new Error(`${msg} (${next.reason})`), 'service-account issuer discovery');
    }
  }
}
