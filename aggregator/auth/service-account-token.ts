// Local verification of a projected ServiceAccount token (a JWT) with node:crypto: decoding, the signature
// against the issuer's keys (RS256 with RSA keys; ES256/ES384/ES512 with ECDSA P-256/P-384/P-521 keys, the
// algorithms kube-apiserver signs with), and the claims: issuer, audience, expiry, not-before, and the
// `kubernetes.io` claims naming the ServiceAccount, its pod and (Kubernetes >= 1.30) its node. Pure: no
// I/O, the keys and the time are given.
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import type { NamespacedName } from '../k8s/namespaced-name.js';

/** Why a token was refused without asking the API server (also the metric and log label). */
export type LocalRefusal =
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'issuer'
  | 'audience'
  | 'expired'
  | 'not-yet-valid'
  | 'service-account';

export type Verification<T> = { ok: true; value: T } | { ok: false; refusal: LocalRefusal; reason: string };

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `header.claims` exactly as sent: what the signature covers. */
  signingInput: string;
  signature: Buffer;
  alg: string;
  kid: string | undefined;
}

/** A verification key from the JWKS: its key ID, the one algorithm it may verify, the public key. */
export interface VerificationKey {
  kid: string | undefined;
  alg: SignatureAlgorithm;
  key: KeyObject;
}

export type SignatureAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512';

/** The algorithm's hash and, for ECDSA, the curve and the byte length of r||s. */
const ALGORITHMS: Record<SignatureAlgorithm, { hash: string; curve?: string; signatureBytes?: number }> = {
  RS256: { hash: 'sha256' },
  ES256: { hash: 'sha256', curve: 'P-256', signatureBytes: 64 },
  ES384: { hash: 'sha384', curve: 'P-384', signatureBytes: 96 },
  ES512: { hash: 'sha512', curve: 'P-521', signatureBytes: 132 },
};

const isAlgorithm = (alg: unknown): alg is SignatureAlgorithm =>
  typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg);

/** Far above a projected token (~1 KiB), far below what would make decoding costly. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Allowed clock difference with the issuer for `nbf`/`iat` (as kube-apiserver's 1 minute leeway). */
export const CLOCK_SKEW_MS = 60_000;
const MIN_RSA_BITS = 2048;

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const malformed = (reason = 'malformed bearer token: not a JWT') =>
  ({ ok: false, refusal: 'malformed', reason }) as const;

/** Splits and decodes a compact JWS without trusting it. */
export function decodeJwt(token: string): Verification<DecodedJwt> {
  if (token.length > MAX_TOKEN_LENGTH) return malformed('malformed bearer token: too long');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return malformed();
  const [h, c, s] = parts as [string, string, string];
  const header = jsonObject(h);
  const claims = jsonObject(c);
  if (!header || !claims) return malformed();
  // RFC 7515 §4.1.11: a token naming extensions we do not implement must be refused.
  if (header['crit'] !== undefined) return malformed('malformed bearer token: unsupported "crit" header');
  const alg = typeof header['alg'] === 'string' ? header['alg'] : '';
  const kid = header['kid'];
  if (kid !== undefined && typeof kid !== 'string') return malformed('malformed bearer token: kid');
  return {
    ok: true,
    value: { header, claims, signingInput: `${h}.${c}`, signature: Buffer.from(s, 'base64url'), alg, kid },
  };
}

/**
 * The verification keys of a JWKS document (`{"keys": [...]}`). Keys that cannot verify a token signature
 * with a supported algorithm (encryption keys, symmetric or unknown types, RSA under 2048 bits, a curve
 * that does not match the stated `alg`) are left out.
 */
export function parseJwks(doc: unknown): VerificationKey[] {
  const keys = doc !== null && typeof doc === 'object' ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
  const out: VerificationKey[] = [];
  for (const jwk of keys as JsonWebKey[]) {
    if (jwk === null || typeof jwk !== 'object' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    const alg = jwk.alg ?? (jwk.kty === 'RSA' ? 'RS256' : ecAlgorithm(jwk.crv));
    if (!isAlgorithm(alg)) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      continue;
    }
    if (!keyFitsAlgorithm(key, alg)) continue;
    out.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, alg, key });
  }
  return out;
}

function ecAlgorithm(crv: unknown): string | undefined {
  return (Object.keys(ALGORITHMS) as SignatureAlgorithm[]).find((a) => ALGORITHMS[a].curve === crv);
}

const CURVE_NAMES: Record<string, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};

function keyFitsAlgorithm(key: KeyObject, alg: SignatureAlgorithm): boolean {
  const details = key.asymmetricKeyDetails;
  if (alg === 'RS256')
    return key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
  const curve = ALGORITHMS[alg].curve;
  return key.asymmetricKeyType === 'ec' && curve !== undefined && details?.namedCurve === CURVE_NAMES[curve];
}

/** Does the signature verify with one of the keys of the token's kid (all keys when it has none)? */
export function verifySignature(jwt: DecodedJwt, keys: readonly VerificationKey[]): Verification<true> {
  if (!isAlgorithm(jwt.alg)) {
    return {
      ok: false,
      refusal: 'algorithm',
      reason: `token signing algorithm ${jwt.alg || 'none'} is not accepted`,
    };
  }
  const candidates = keys.filter((k) => k.alg === jwt.alg && (jwt.kid === undefined || k.kid === jwt.kid));
  if (candidates.length === 0) {
    return { ok: false, refusal: 'unknown-key', reason: "token signed by a key not among the issuer's keys" };
  }
  const { hash, signatureBytes } = ALGORITHMS[jwt.alg];
  if (signatureBytes !== undefined && jwt.signature.length !== signatureBytes) {
    return { ok: false, refusal: 'signature', reason: 'token signature does not verify' };
  }
  const data = Buffer.from(jwt.signingInput, 'ascii');
  for (const { key } of candidates) {
    const ok =
      signatureBytes === undefined
        ? verify(hash, data, key, jwt.signature)
        : verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    if (ok) return { ok: true, value: true };
  }
  return { ok: false, refusal: 'signature', reason: 'token signature does not verify' };
}

export interface ClaimExpectations {
  issuer: string;
  audience: string;
  serviceAccount: NamespacedName;
  nowMs: number;
}

/** What a verified token says about its holder. */
export interface ServiceAccountClaims {
  username: string;
  /** Kubernetes >= 1.30: the node the token's pod runs on. */
  nodeName: string | undefined;
  pod: { name: string; uid: string } | undefined;
  expiresAtMs: number;
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Checks the registered and `kubernetes.io` claims of a token whose signature verified. */
export function checkClaims(
  claims: Record<string, unknown>,
  expect: ClaimExpectations,
): Verification<ServiceAccountClaims> {
  const refuse = (refusal: LocalRefusal, reason: string) => ({ ok: false, refusal, reason }) as const;
  if (claims['iss'] !== expect.issuer) return refuse('issuer', `token issuer is not ${expect.issuer}`);
  const aud = claims['aud'];
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(expect.audience))
    return refuse('audience', `token audience is not ${expect.audience}`);
  const exp = claims['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return refuse('expired', 'token has no expiry');
  if (exp * 1000 <= expect.nowMs) return refuse('expired', 'token expired');
  for (const field of ['nbf', 'iat'] as const) {
    const at = claims[field];
    if (at !== undefined && (typeof at !== 'number' || at * 1000 > expect.nowMs + CLOCK_SKEW_MS)) {
      return refuse('not-yet-valid', `token not valid yet (${field})`);
    }
  }
  const { namespace, name } = expect.serviceAccount;
  const username = `system:serviceaccount:${namespace}:${name}`;
  const k8s = obj(claims['kubernetes.io']);
  if (
    claims['sub'] !== username ||
    k8s?.['namespace'] !== namespace ||
    obj(k8s['serviceaccount'])?.['name'] !== name
  ) {
    const who = str(claims['sub']) ?? 'this identity';
    return refuse('service-account', `${who} is not the agent ServiceAccount`);
  }
  const pod = obj(k8s['pod']);
  const podName = str(pod?.['name']);
  const podUid = str(pod?.['uid']);
  return {
    ok: true,
    value: {
      username,
      nodeName: str(obj(k8s['node'])?.['name']),
      pod: podName && podUid ? { name: podName, uid: podUid } : undefined,
      expiresAtMs: exp * 1000,
    },
  };
}
