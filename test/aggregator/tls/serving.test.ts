import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
