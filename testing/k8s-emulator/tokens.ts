// Bound ServiceAccount tokens as the apiserver issues and reviews them: signed JWTs (RS256 or ES256) with
// the issuer, audiences, expiry and `kubernetes.io` claims of a projected token, the issuer's JWKS (with
// key rotation), and TokenReview (authentication.k8s.io/v1): a registry of issued tokens, audience checking
// against `spec.audiences`, expiry, revocation, and an override hook.
import { type JsonWebKey, randomUUID } from 'node:crypto';
import { isObject } from './json.js';
import {
  generateSigningKey,
  type SigningAlgorithm,
  type SigningKey,
  sharedSigningKey,
  signJwt,
} from './signing-keys.js';

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
  /** The token string (registered as is, e.g. an opaque one); default: a JWT signed by the active key. */
  token?: string;
  /** `system:serviceaccount:NS:NAME` is derived from this unless `username` is given. */
  serviceAccount?: { namespace: string; name: string; uid?: string };
  username?: string;
  uid?: string;
  groups?: string[];
  /** Audiences the token was issued for; default: the emulator's API audiences. */
  audiences?: string[];
  /** Epoch milliseconds after which the token is rejected (the JWT's `exp`); default an hour after issue. */
  expiresAt?: number;
  /** Epoch milliseconds of issue (`iat`, `nbf`); default the emulator's now. */
  issuedAt?: number;
  /** The JWT's `iss`; default the emulator's issuer. */
  issuer?: string;
  nodeUid?: string;
  /** Bound object claims (Kubernetes ≥ 1.30 puts node-name in `user.extra`). */
  nodeName?: string;
  podName?: string;
  podUid?: string;
  /** Leave out the node-name extra, as apiservers before 1.30 do. */
  omitNodeName?: boolean;
  extra?: Record<string, string[]>;
}

interface Identity {
  username: string;
  uid: string;
  jti: string;
  pod: { name: string; uid: string } | undefined;
  node: { name: string; uid: string } | undefined;
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

export const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export class TokenRegistry {
  private readonly tokens = new Map<string, Issued>();
  private override: TokenReviewOverride | null = null;
  private readonly apiAudiences: string[];
  private readonly now: () => number;
  private counter = 0;
  /** The issuer (`iss`) of the tokens and of the discovery document. */
  readonly issuer: string;
  /** The JWKS: the active key last; keys retired by rotateKey are removed, kept ones stay verifiable. */
  private keys: SigningKey[];
  /** Every review received, for assertions. */
  readonly reviews: { token: string; audiences: string[]; status: TokenReviewStatus }[] = [];

  constructor(
    apiAudiences: string[],
    now: () => number,
    options: { issuer?: string; algorithm?: SigningAlgorithm } = {},
  ) {
    this.apiAudiences = apiAudiences;
    this.now = now;
    this.issuer = options.issuer ?? 'https://kubernetes.default.svc.cluster.local';
    this.keys = [sharedSigningKey(options.algorithm ?? 'RS256')];
  }

  /** The key new tokens are signed with. */
  get activeKey(): SigningKey {
    return this.keys[this.keys.length - 1]!;
  }

  /** `GET /openid/v1/jwks`. */
  jwks(): { keys: JsonWebKey[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /**
   * A new signing key becomes the active one (returns its kid). The previous keys stay in the JWKS, as
   * when an apiserver is given an extra --service-account-key-file, unless `retireOld` removes them.
   */
  rotateKey(options: { algorithm?: SigningAlgorithm; retireOld?: boolean } = {}): string {
    const key = generateSigningKey(options.algorithm ?? this.activeKey.alg);
    this.keys = options.retireOld ? [key] : [...this.keys, key];
    return key.kid;
  }

  /** Signs any claims with the active key (or `key`), without registering the token for TokenReview. */
  sign(claims: object, options: { key?: SigningKey; header?: Record<string, unknown> } = {}): string {
    return signJwt(claims, options.key ?? this.activeKey, options.header);
  }

  /** Registers a token and returns it. */
  issue(opts: IssueOptions = {}): string {
    this.counter += 1;
    const sa = opts.serviceAccount;
    const issuedAt = opts.issuedAt ?? this.now();
    const expiresAt = opts.expiresAt ?? (opts.token ? undefined : issuedAt + DEFAULT_TOKEN_LIFETIME_MS);
    const ids: Identity = {
      username:
        opts.username ?? (sa ? `system:serviceaccount:${sa.namespace}:${sa.name}` : `user-${this.counter}`),
      uid: opts.uid ?? sa?.uid ?? randomUUID(),
      jti: randomUUID(),
      pod: opts.podName ? { name: opts.podName, uid: opts.podUid ?? randomUUID() } : undefined,
      node:
        opts.nodeName && !opts.omitNodeName
          ? { name: opts.nodeName, uid: opts.nodeUid ?? randomUUID() }
          : undefined,
    };
    const token = opts.token ?? this.sign(this.claimsOf(opts, ids, issuedAt, expiresAt!));
    const groups =
      opts.groups ??
      (sa
        ? ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated']
        : ['system:authenticated']);
    const extra: Record<string, string[]> = { ...(opts.extra ?? {}) };
    if (ids.node) extra[EXTRA_NODE_NAME] = [ids.node.name];
    if (ids.pod) {
      extra[EXTRA_POD_NAME] = [ids.pod.name];
      extra[EXTRA_POD_UID] = [ids.pod.uid];
    }
    if (sa) extra[EXTRA_CREDENTIAL_ID] = [`JTI=${ids.jti}`];
    const user: TokenUser = { username: ids.username, uid: ids.uid, groups };
    if (Object.keys(extra).length > 0) user.extra = extra;
    this.tokens.set(token, { user, audiences: opts.audiences ?? this.apiAudiences, expiresAt });
    return token;
  }

  /** The claims of a projected ServiceAccount token (Kubernetes >= 1.30 adds the node). */
  private claimsOf(
    opts: IssueOptions,
    ids: Identity,
    issuedAt: number,
    expiresAt: number,
  ): Record<string, unknown> {
    const sa = opts.serviceAccount;
    const seconds = (ms: number) => Math.floor(ms / 1000);
    const claims: Record<string, unknown> = {
      aud: opts.audiences ?? this.apiAudiences,
      exp: seconds(expiresAt),
      iat: seconds(issuedAt),
      iss: opts.issuer ?? this.issuer,
      jti: ids.jti,
      nbf: seconds(issuedAt),
      sub: ids.username,
    };
    if (sa) {
      claims['kubernetes.io'] = {
        namespace: sa.namespace,
        serviceaccount: { name: sa.name, uid: ids.uid },
        ...(ids.pod ? { pod: ids.pod } : {}),
        ...(ids.node ? { node: ids.node } : {}),
      };
    }
    return claims;
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
