// The service-account issuer's signing keys, as kube-apiserver holds them: RSA (RS256) or ECDSA P-256
// (ES256) key pairs whose key ID is base64url(SHA-256(DER of the public key)), published as a JWKS, and
// JWT signing with node:crypto.
import { createHash, generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';

export type SigningAlgorithm = 'RS256' | 'ES256';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  /** The public half as the JWKS lists it (`kid`, `alg`, `use: sig`). */
  publicJwk: JsonWebKey;
}

export function generateSigningKey(alg: SigningAlgorithm = 'RS256'): SigningKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const kid = createHash('sha256').update(der).digest('base64url');
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

// RSA key generation takes tens of milliseconds: emulators share one key per algorithm unless they rotate.
const shared = new Map<SigningAlgorithm, SigningKey>();

export function sharedSigningKey(alg: SigningAlgorithm): SigningKey {
  let key = shared.get(alg);
  if (!key) {
    key = generateSigningKey(alg);
    shared.set(alg, key);
  }
  return key;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS: `header.claims.signature`, header `{alg, kid}` plus `header` (which may override them). */
export function signJwt(claims: object, key: SigningKey, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: key.alg, kid: key.kid, ...header })}.${b64(claims)}`;
  const signature =
    key.alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
