import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { readTlsPairSync, watchTlsFiles } from '../../../aggregator/tls/serving.js';
import { generateServerCert, generateTestCa, generateTestPki } from '../../helpers/certs.js';
import { makeApp, sampleReport, TOKEN } from '../harness.js';

function get(port: number, ca: string, path = '/healthz'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection (and handshake) per request.
    const req = request({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += String(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function post(port: number, ca: string, payload: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/reports',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('HTTPS serving', () => {
  it('serves HTTPS on 127.0.0.1 and picks up a replaced certificate for new connections', async () => {
    const first = await generateTestPki();
    const dir = mkdtempSync(join(tmpdir(), 'onv-tls-'));
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, first.server.cert);
    writeFileSync(keyFile, first.server.key);

    const t = await makeApp({ tls: readTlsPairSync(certFile, keyFile) });
    const errors: unknown[] = [];
    const watcher = watchTlsFiles({
      certFile,
      keyFile,
      intervalMs: 60_000,
      onChange: (p) => t.server.setTlsCredentials(p.cert, p.key),
      onError: (e) => errors.push(e),
    });
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as AddressInfo;
      expect(t.server.tls).toBe(true);
      expect(await get(port, first.ca.cert)).toEqual({ status: 200, body: '{"status":"ok"}' });
      expect(await post(port, first.ca.cert, JSON.stringify(sampleReport('tls-node')))).toBe(202);
      expect(await watcher.checkNow()).toBe(false);

      // A key that does not match the certificate is not applied: the old pair keeps serving.
      const second = await generateTestPki();
      writeFileSync(certFile, second.server.cert);
      expect(await watcher.checkNow()).toBe(false);
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/not a usable pair/);
      expect((await get(port, first.ca.cert)).status).toBe(200);

      writeFileSync(keyFile, second.server.key);
      expect(await watcher.checkNow()).toBe(true);
      expect((await get(port, second.ca.cert)).status).toBe(200);
      await expect(get(port, first.ca.cert)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    } finally {
      watcher.stop();
      await t.app.close();
    }
  });

  it('setTlsCredentials rejects a bad pair and refuses on a plain-HTTP server', async () => {
    const ca = await generateTestCa();
    const a = await generateServerCert(ca);
    const b = await generateServerCert(ca);
    const t = await makeApp({ tls: a });
    try {
      expect(() => t.server.setTlsCredentials(a.cert, b.key)).toThrow();
      t.server.setTlsCredentials(b.cert, b.key);
    } finally {
      await t.app.close();
    }
    const plain = await makeApp();
    try {
      expect(() => plain.server.setTlsCredentials(a.cert, a.key)).toThrow(/without TLS/);
    } finally {
      await plain.app.close();
    }
    expect(() => readTlsPairSync('/nonexistent/cert', '/nonexistent/key')).toThrow(/ENOENT/);
  });
});

/** One TLS handshake offering only `ciphers`: the negotiated version and cipher, or the error. */
function handshake(
  port: number,
  ca: string,
  offer: { ciphers?: string; maxVersion?: SecureVersion; minVersion?: SecureVersion },
): Promise<{ ok: true; version: string | null; cipher: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ...offer }, () => {
      const result = { ok: true as const, version: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.on('error', (err) => resolve({ ok: false, error: String(err) }));
  });
}

describe('TLS versions and ciphers', () => {
  it('TLS 1.2 only with ECDHE and AEAD ciphers (RSA certificate); TLS 1.3 as Node serves it; kept across a certificate swap', async () => {
    const ca = await generateTestCa('rsa test CA', 'rsa');
    const rsa = await generateServerCert(ca, { keyType: 'rsa' });
    const t = await makeApp({ tls: rsa });
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as AddressInfo;
      const tls12 = (ciphers: string) => handshake(port, ca.cert, { ciphers, maxVersion: 'TLSv1.2' });
      const expectPolicy = async () => {
        // Static RSA key exchange (no forward secrecy), and CBC with SHA-1 (no AEAD): refused.
        expect(await tls12('AES128-SHA')).toMatchObject({ ok: false });
        expect(await tls12('AES128-GCM-SHA256')).toMatchObject({ ok: false });
        expect(await tls12('ECDHE-RSA-AES128-SHA')).toMatchObject({ ok: false });
        expect(await tls12('ECDHE-RSA-AES256-SHA384')).toMatchObject({ ok: false });
        for (const cipher of [
          'ECDHE-RSA-AES128-GCM-SHA256',
          'ECDHE-RSA-AES256-GCM-SHA384',
          'ECDHE-RSA-CHACHA20-POLY1305',
        ]) {
          expect(await tls12(cipher)).toEqual({ ok: true, version: 'TLSv1.2', cipher });
        }
        const tls13 = await handshake(port, ca.cert, { minVersion: 'TLSv1.3' });
        expect(tls13).toMatchObject({ ok: true, version: 'TLSv1.3' });
        // TLS 1.0 and 1.1 are refused.
        expect(await handshake(port, ca.cert, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).toMatchObject({
          ok: false,
        });
      };
      await expectPolicy();
      // setSecureContext replaces the whole context: the swapped certificate keeps the same policy.
      const next = await generateServerCert(ca, { keyType: 'rsa' });
      t.server.setTlsCredentials(next.cert, next.key);
      await expectPolicy();
    } finally {
      await t.app.close();
    }
  });

  it('an ECDSA certificate: ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305 only', async () => {
    const pki = await generateTestPki();
    const t = await makeApp({ tls: pki.server });
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as AddressInfo;
      const tls12 = (ciphers: string) => handshake(port, pki.ca.cert, { ciphers, maxVersion: 'TLSv1.2' });
      expect(await tls12('ECDHE-ECDSA-AES128-SHA')).toMatchObject({ ok: false });
      expect(await tls12('ECDHE-ECDSA-AES256-SHA384')).toMatchObject({ ok: false });
      for (const cipher of [
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        'ECDHE-ECDSA-AES256-GCM-SHA384',
        'ECDHE-ECDSA-CHACHA20-POLY1305',
      ]) {
        expect(await tls12(cipher)).toEqual({ ok: true, version: 'TLSv1.2', cipher });
      }
    } finally {
      await t.app.close();
    }
  });
});
