// Local verification of ServiceAccount tokens (aggregator/auth/service-account-token.ts): keys from a JWKS,
// signatures with every algorithm kube-apiserver signs with, and the claims of a projected token.
import { generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CLOCK_SKEW_MS,
  checkClaims,
  type DecodedJwt,
  decodeJwt,
  MAX_TOKEN_LENGTH,
  parseJwks,
  verifySignature,
} from '../../../aggregator/auth/service-account-token.js';
import { generateSigningKey, signJwt } from '../../../testing/k8s-emulator/index.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
const NOW = Date.parse('2026-06-01T12:00:00Z');
const sec = (ms: number) => Math.floor(ms / 1000);

function decoded(token: string): DecodedJwt {
  const d = decodeJwt(token);
  if (!d.ok) throw new Error(d.reason);
  return d.value;
}

/** An ECDSA key on `curve` and a token signed with it as JOSE does (r||s). */
function ecToken(curve: string, alg: string, hash: string): { jwk: JsonWebKey; token: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const input = `${b64({ alg, kid: curve })}.${b64({ sub: 'x' })}`;
  const sig = sign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return {
    jwk: { ...publicKey.export({ format: 'jwk' }), kid: curve },
    token: `${input}.${sig.toString('base64url')}`,
  };
}

function rsaToken(privateKey: KeyObject, header: object): string {
  const input = `${b64(header)}.${b64({ sub: 'x' })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('decodeJwt', () => {
  it('takes three base64url segments with JSON objects, and nothing else', () => {
    const good = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ sub: 'x' })}.c2ln`;
    expect(decoded(good)).toMatchObject({ alg: 'RS256', kid: 'k', claims: { sub: 'x' } });
    for (const bad of [
      'opaque',
      'a.b',
      `${b64({ alg: 'RS256' })}.${b64({})}.sig.more`,
      `${b64({ alg: 'RS256' })}.${b64([1])}.c2ln`,
      `${b64({ alg: 'RS256' })}.${b64({})}.`,
      `${b64({ alg: 'RS256', kid: 7 })}.${b64({})}.c2ln`,
      `${b64({ alg: 'RS256', crit: ['exp'] })}.${b64({})}.c2ln`,
      `${b64({ alg: 'RS256' })}.${'e'.repeat(MAX_TOKEN_LENGTH)}.c2ln`,
    ]) {
      expect(decodeJwt(bad), bad.slice(0, 60)).toMatchObject({ ok: false, refusal: 'malformed' });
    }
  });
});

describe('parseJwks and verifySignature', () => {
  it('verifies RS256 and ES256 tokens of the issuer and nothing signed by another key', () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const issuer = generateSigningKey(alg);
      const other = generateSigningKey(alg);
      const keys = parseJwks({ keys: [issuer.publicJwk] });
      expect(keys).toEqual([expect.objectContaining({ kid: issuer.kid, alg })]);
      const token = signJwt({ sub: 'x' }, issuer);
      expect(verifySignature(decoded(token), keys)).toEqual({ ok: true, value: true });
      // Another key under the issuer's kid: the signature does not verify.
      const forged = signJwt({ sub: 'x' }, other, { kid: issuer.kid });
      expect(verifySignature(decoded(forged), keys)).toMatchObject({ ok: false, refusal: 'signature' });
      // Its own kid: not one of the issuer's keys.
      expect(verifySignature(decoded(signJwt({ sub: 'x' }, other)), keys)).toMatchObject({
        ok: false,
        refusal: 'unknown-key',
      });
      // The claims changed after signing.
      const [h, , s] = token.split('.');
      const tampered = `${h}.${b64({ sub: 'admin' })}.${s}`;
      expect(verifySignature(decoded(tampered), keys)).toMatchObject({ ok: false, refusal: 'signature' });
    }
  });

  it('verifies ES384 and ES512 (P-384, P-521), and a token without kid against every key of its algorithm', () => {
    const p384 = ecToken('P-384', 'ES384', 'sha384');
    const p521 = ecToken('P-521', 'ES512', 'sha512');
    const keys = parseJwks({ keys: [p384.jwk, p521.jwk] });
    expect(keys.map((k) => k.alg)).toEqual(['ES384', 'ES512']);
    expect(verifySignature(decoded(p384.token), keys).ok).toBe(true);
    expect(verifySignature(decoded(p521.token), keys).ok).toBe(true);
    const rsa = generateSigningKey('RS256');
    const noKid = rsaToken(rsa.privateKey, { alg: 'RS256' });
    const rsaKeys = parseJwks({ keys: [generateSigningKey('RS256').publicJwk, rsa.publicJwk] });
    expect(verifySignature(decoded(noKid), rsaKeys).ok).toBe(true);
  });

  it('refuses alg none, HMAC, and an algorithm that does not match the key', () => {
    const rsa = generateSigningKey('RS256');
    const keys = parseJwks({ keys: [rsa.publicJwk] });
    const claims = b64({ sub: 'x' });
    const none = `${b64({ alg: 'none', kid: rsa.kid })}.${claims}.c2ln`;
    expect(verifySignature(decoded(none), keys)).toMatchObject({ ok: false, refusal: 'algorithm' });
    const hs = `${b64({ alg: 'HS256', kid: rsa.kid })}.${claims}.c2ln`;
    expect(verifySignature(decoded(hs), keys)).toMatchObject({ ok: false, refusal: 'algorithm' });
    // ES256 named on an RSA key's kid: no key of that algorithm.
    const ec = generateSigningKey('ES256');
    const confused = signJwt({ sub: 'x' }, ec, { kid: rsa.kid });
    expect(verifySignature(decoded(confused), keys)).toMatchObject({ ok: false, refusal: 'unknown-key' });
  });

  it('leaves out keys that cannot verify token signatures', () => {
    const rsa = generateSigningKey('RS256');
    const { publicKey: small } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p256 = generateSigningKey('ES256').publicJwk;
    const keys = parseJwks({
      keys: [
        { ...rsa.publicJwk, use: 'enc' },
        { ...small.export({ format: 'jwk' }), kid: 'small' },
        { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
        { ...p256, alg: 'ES384', kid: 'curve-mismatch' },
        { kty: 'RSA', n: 'garbage', e: 'AQAB', kid: 'broken' },
        null,
        { ...rsa.publicJwk },
      ],
    });
    expect(keys.map((k) => k.kid)).toEqual([rsa.kid]);
    expect(() => parseJwks({ nokeys: [] })).toThrow(/keys/);
  });
});

describe('checkClaims', () => {
  const expectations = { issuer: ISSUER, audience: 'osmo-node-validator', serviceAccount: SA, nowMs: NOW };
  const good = {
    aud: ['osmo-node-validator'],
    exp: sec(NOW) + 3600,
    iat: sec(NOW) - 60,
    nbf: sec(NOW) - 60,
    iss: ISSUER,
    sub: 'system:serviceaccount:osmo-node-validator:osmo-node-validator-agent',
    'kubernetes.io': {
      namespace: SA.namespace,
      serviceaccount: { name: SA.name, uid: 'sa-uid' },
      pod: { name: 'agent-x', uid: 'pod-uid' },
      node: { name: 'gpu-1', uid: 'node-uid' },
    },
  };

  it('gives the username, node, pod and expiry of a projected token', () => {
    expect(checkClaims(good, expectations)).toEqual({
      ok: true,
      value: {
        username: good.sub,
        nodeName: 'gpu-1',
        pod: { name: 'agent-x', uid: 'pod-uid' },
        expiresAtMs: good.exp * 1000,
      },
    });
    // A single-string audience is an audience too; before 1.30 there is no node.
    const k8s = { ...good['kubernetes.io'], node: undefined };
    expect(
      checkClaims({ ...good, aud: 'osmo-node-validator', 'kubernetes.io': k8s }, expectations),
    ).toMatchObject({
      ok: true,
      value: { nodeName: undefined },
    });
  });

  it.each([
    ['issuer', { iss: 'https://other-cluster' }],
    ['issuer', { iss: undefined }],
    ['audience', { aud: ['https://kubernetes.default.svc'] }],
    ['audience', { aud: undefined }],
    ['expired', { exp: sec(NOW) }],
    ['expired', { exp: undefined }],
    ['expired', { exp: '9999999999' }],
    ['not-yet-valid', { nbf: sec(NOW + CLOCK_SKEW_MS) + 5 }],
    ['not-yet-valid', { iat: sec(NOW + CLOCK_SKEW_MS) + 5 }],
    ['service-account', { sub: 'system:serviceaccount:osmo-node-validator:default' }],
    ['service-account', { 'kubernetes.io': { ...good['kubernetes.io'], namespace: 'default' } }],
    [
      'service-account',
      { 'kubernetes.io': { ...good['kubernetes.io'], serviceaccount: { name: 'default', uid: 'u' } } },
    ],
    ['service-account', { 'kubernetes.io': undefined }],
  ])('refuses %s: %j', (refusal, change) => {
    expect(checkClaims({ ...good, ...change }, expectations)).toMatchObject({ ok: false, refusal });
  });

  it('accepts nbf/iat within the clock skew', () => {
    const skewed = { ...good, nbf: sec(NOW + CLOCK_SKEW_MS) - 1, iat: sec(NOW + CLOCK_SKEW_MS) - 1 };
    expect(checkClaims(skewed, expectations).ok).toBe(true);
  });
});
