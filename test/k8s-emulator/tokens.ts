// TokenReview (authentication.k8s.io/v1) as the apiserver answers it for bound ServiceAccount tokens:
// a registry of issued tokens, audience checking against `spec.audiences`, expiry, and an override hook.
import { isObject } from './json.js';

export interface TokenUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: Partial<TokenUser>;
  audiences?: string[];
  error?: string;
}

export interface IssueOptions {
  /** The token string; generated when absent. */
  token?: string;
  /** `system:serviceaccount:NS:NAME` is derived from this unless `username` is given. */
  serviceAccount?: { namespace: string; name: string; uid?: string };
  username?: string;
  uid?: string;
  groups?: string[];
  /** Audiences the token was issued for; default: the emulator's API audiences. */
  audiences?: string[];
  /** Epoch milliseconds after which the token is rejected. */
  expiresAt?: number;
  /** Bound object claims (Kubernetes ≥ 1.30 puts node-name in `user.extra`). */
  nodeName?: string;
  podName?: string;
  podUid?: string;
  /** Leave out the node-name extra, as apiservers before 1.30 do. */
  omitNodeName?: boolean;
  extra?: Record<string, string[]>;
}

interface Issued {
  user: TokenUser;
  audiences: string[];
  expiresAt: number | undefined;
}

export type TokenReviewOverride = (
  spec: { token: string; audiences: string[] },
  computed: TokenReviewStatus,
) => TokenReviewStatus | undefined;

export const EXTRA_NODE_NAME = 'authentication.kubernetes.io/node-name';
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';
export const EXTRA_CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';

export class TokenRegistry {
  private readonly tokens = new Map<string, Issued>();
  private override: TokenReviewOverride | null = null;
  private readonly apiAudiences: string[];
  private readonly now: () => number;
  private counter = 0;
  /** Every review received, for assertions. */
  readonly reviews: { token: string; audiences: string[]; status: TokenReviewStatus }[] = [];

  constructor(apiAudiences: string[], now: () => number) {
    this.apiAudiences = apiAudiences;
    this.now = now;
  }

  /** Registers a token and returns it. */
  issue(opts: IssueOptions = {}): string {
    this.counter += 1;
    const token = opts.token ?? `emulator-token-${this.counter}-${crypto.randomUUID()}`;
    const sa = opts.serviceAccount;
    const username =
      opts.username ?? (sa ? `system:serviceaccount:${sa.namespace}:${sa.name}` : `user-${this.counter}`);
    const groups =
      opts.groups ??
      (sa
        ? ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated']
        : ['system:authenticated']);
    const extra: Record<string, string[]> = { ...(opts.extra ?? {}) };
    if (opts.nodeName && !opts.omitNodeName) extra[EXTRA_NODE_NAME] = [opts.nodeName];
    if (opts.podName) extra[EXTRA_POD_NAME] = [opts.podName];
    if (opts.podUid) extra[EXTRA_POD_UID] = [opts.podUid];
    if (sa) extra[EXTRA_CREDENTIAL_ID] = [`JTI=${crypto.randomUUID()}`];
    const user: TokenUser = { username, uid: opts.uid ?? sa?.uid ?? crypto.randomUUID(), groups };
    if (Object.keys(extra).length > 0) user.extra = extra;
    this.tokens.set(token, {
      user,
      audiences: opts.audiences ?? this.apiAudiences,
      expiresAt: opts.expiresAt,
    });
    return token;
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  /** Replaces the computed answer when the hook returns one; `null` removes the hook. */
  setOverride(fn: TokenReviewOverride | null): void {
    this.override = fn;
  }

  review(spec: unknown): TokenReviewStatus {
    const token = isObject(spec) && typeof spec['token'] === 'string' ? spec['token'] : '';
    const rawAud = isObject(spec) ? spec['audiences'] : undefined;
    const audiences = Array.isArray(rawAud) ? rawAud.filter((a): a is string => typeof a === 'string') : [];
    const computed = this.compute(token, audiences);
    const status = this.override?.({ token, audiences }, computed) ?? computed;
    this.reviews.push({ token, audiences, status });
    return status;
  }

  private compute(token: string, requested: string[]): TokenReviewStatus {
    const issued = this.tokens.get(token);
    if (!issued) return { user: {}, error: '[invalid bearer token, token lookup failed]' };
    if (issued.expiresAt !== undefined && this.now() >= issued.expiresAt) {
      return { user: {}, error: '[invalid bearer token, service account token has expired]' };
    }
    const wanted = requested.length > 0 ? requested : this.apiAudiences;
    const common = wanted.filter((a) => issued.audiences.includes(a));
    if (common.length === 0) {
      return {
        user: {},
        error: '[invalid bearer token, token audiences is invalid for the target audiences]',
      };
    }
    return { authenticated: true, user: structuredClone(issued.user), audiences: common };
  }
}
