// The in-cluster TLS bootstrap against the Kubernetes API emulator: first start creates the Secret and the
// CA ConfigMap, later starts reuse them, near-expiry material is rotated, and write races (409) converge.
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseNamespacedName } from '../../../aggregator/k8s/namespaced-name.js';
import {
  bootstrapTls,
  serviceDnsNames,
  type TlsBootstrap,
  type TlsBootstrapOptions,
} from '../../../aggregator/tls/bootstrap.js';
import { type K8sEmulator, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';

const NS = 'osmo-node-validator';
const SECRET = 'osmo-node-validator-tls';
const CM = 'osmo-node-validator-ca';
const DAY = 24 * 60 * 60 * 1000;
const SECRET_PATH = `/api/v1/namespaces/${NS}/secrets/${SECRET}`;
const SECRETS_PATH = `/api/v1/namespaces/${NS}/secrets`;

let emulator: K8sEmulator;
const handles: TlsBootstrap[] = [];

beforeEach(async () => {
  emulator = await startK8sEmulator();
  emulator.namespaces.put({
    metadata: { name: NS },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
});

afterEach(async () => {
  for (const h of handles.splice(0)) h.stop();
  await emulator.close();
});

async function start(extra: Partial<TlsBootstrapOptions> = {}): Promise<TlsBootstrap> {
  const h = await bootstrapTls({
    kubeConfig: emulator.kubeConfig(),
    namespace: NS,
    secretName: SECRET,
    caConfigMapName: CM,
    dnsNames: serviceDnsNames('osmo-node-validator', NS),
    ...extra,
  });
  handles.push(h);
  return h;
}

function secretData(): Record<string, string> {
  const s = emulator.secrets.get(SECRET, NS);
  const data = (s?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function publishedCa(): string | undefined {
  return ((emulator.configMaps.get(CM, NS)?.['data'] ?? {}) as Record<string, string>)['ca.crt'];
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** A real TLS handshake: a client trusting only `caPem` connects to a server using the material. */
async function handshake(h: TlsBootstrap, servername: string): Promise<boolean> {
  const server = createServer({ cert: h.certPem, key: h.keyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: h.caPem }, () => {
        resolve(socket.authorized);
        socket.destroy();
      });
      socket.on('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

describe('bootstrapTls', () => {
  it('creates the Secret and the CA ConfigMap; agents trusting the CA accept the certificate', async () => {
    const h = await start();
    const data = secretData();
    expect(emulator.secrets.get(SECRET, NS)?.['type']).toBe('kubernetes.io/tls');
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(data['tls.crt']).toBe(h.certPem);
    expect(publishedCa()).toBe(h.caPem);

    const ca = new X509Certificate(data['ca.crt'] as string);
    const cert = new X509Certificate(h.certPem);
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    for (const name of serviceDnsNames('osmo-node-validator', NS))
      expect(cert.subjectAltName).toContain(`DNS:${name}`);
    const years = (new Date(ca.validTo).getTime() - Date.now()) / (365 * DAY);
    expect(years).toBeGreaterThan(9.9);
    expect(h.notAfter.getTime() - Date.now()).toBeGreaterThan(364 * DAY);

    expect(await handshake(h, `osmo-node-validator.${NS}.svc`)).toBe(true);
    expect(await handshake(h, 'someone-else.example')).toBe(false);
  });

  it('a second start reuses the Secret and writes nothing', async () => {
    const first = await start();
    emulator.reset();
    const second = await start();
    expect(second.certPem).toBe(first.certPem);
    expect(second.keyPem).toBe(first.keyPem);
    expect(emulator.writes()).toBe(0);
  });

  it('rotates a serving certificate within 30 days of expiry, keeping the CA', async () => {
    const first = await start();
    const caBefore = secretData()['ca.crt'];
    emulator.reset();
    const later = new Date(first.notAfter.getTime() - 29 * DAY);
    const second = await start({ now: () => later });
    expect(second.certPem).not.toBe(first.certPem);
    expect(secretData()['ca.crt']).toBe(caBefore);
    expect(second.notAfter.getTime()).toBeGreaterThan(later.getTime() + 364 * DAY);
    // Only the Secret was written: the CA bundle did not change.
    expect(emulator.requestsBy('PUT').map((r) => r.path)).toEqual([SECRET_PATH]);
    expect(emulator.requestsBy('POST')).toEqual([]);
  });

  it('recheck() rotates when the clock passes the renewal point and calls onRotate', async () => {
    let clock = new Date();
    const rotations: string[] = [];
    const h = await start({ now: () => clock, onRotate: (cert) => rotations.push(cert) });
    const original = h.certPem;
    await h.recheck();
    expect(rotations).toEqual([]);
    clock = new Date(h.notAfter.getTime() - 10 * DAY);
    await h.recheck();
    expect(rotations).toHaveLength(1);
    expect(h.certPem).toBe(rotations[0]);
    expect(h.certPem).not.toBe(original);
    expect(secretData()['tls.crt']).toBe(h.certPem);
  });

  it('adopts a rotation another replica made', async () => {
    // Both replicas share one clock, as pods in a cluster do.
    let clock = new Date();
    const rotations: string[] = [];
    const a = await start({ now: () => clock, onRotate: (cert) => rotations.push(cert) });
    clock = new Date(a.notAfter.getTime() - 10 * DAY);
    const b = await start({ now: () => clock });
    expect(b.certPem).not.toBe(a.certPem);
    emulator.reset();
    await a.recheck();
    expect(emulator.writes()).toBe(0);
    expect(rotations).toEqual([b.certPem]);
    expect(a.certPem).toBe(b.certPem);
  });

  it('replaces an invalid Secret', async () => {
    emulator.secrets.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: SECRET, namespace: NS },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from('garbage').toString('base64'), 'tls.key': '' },
    });
    const h = await start();
    expect(secretData()['tls.crt']).toBe(h.certPem);
    expect(await handshake(h, 'osmo-node-validator')).toBe(true);
  });

  it('two replicas racing on an empty namespace converge on one Secret (409 AlreadyExists)', async () => {
    // Both first reads are held back until both were sent, so both see no Secret and both create it.
    emulator.inject({ method: 'GET', path: SECRET_PATH, times: 2, delayMs: 150 });
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.certPem).toBe(b.certPem);
    expect(secretData()['tls.crt']).toBe(a.certPem);
    expect(
      emulator
        .requestsBy('POST', SECRETS_PATH)
        .map((r) => r.status)
        .sort(),
    ).toEqual([201, 409]);
    expect(publishedCa()).toBe(a.caPem);
  });

  it('retries an update that lost to a concurrent write (409 Conflict)', async () => {
    const first = await start();
    emulator.inject({ method: 'PUT', path: SECRET_PATH, times: 1, status: 409 });
    const later = new Date(first.notAfter.getTime() - 10 * DAY);
    const second = await start({ now: () => later });
    expect(second.certPem).not.toBe(first.certPem);
    expect(emulator.requestsBy('PUT', SECRET_PATH).map((r) => r.status)).toEqual([409, 200]);
  });

  it('near the CA expiry: a new CA, with old and new CA both published', async () => {
    const first = await start();
    const oldCa = secretData()['ca.crt'] as string;
    const caExpiry = new Date(new X509Certificate(oldCa).validTo);
    const later = new Date(caExpiry.getTime() - 100 * DAY);
    const second = await start({ now: () => later });
    const data = secretData();
    expect(data['ca.crt']).not.toBe(oldCa);
    expect(data['ca-previous.crt']).toBe(oldCa);
    const bundle = pemBlocks(publishedCa() ?? '');
    expect(bundle).toHaveLength(2);
    expect(bundle).toContain(oldCa.trim());
    expect(second.certPem).not.toBe(first.certPem);
    expect(
      new X509Certificate(second.certPem).checkIssued(new X509Certificate(data['ca.crt'] as string)),
    ).toBe(true);
  });
});

describe('parseNamespacedName / serviceDnsNames', () => {
  it('parses NAMESPACE/NAME and refuses anything else', () => {
    expect(parseNamespacedName('osmo-node-validator/osmo-node-validator-tls')).toEqual({
      namespace: 'osmo-node-validator',
      name: 'osmo-node-validator-tls',
    });
    expect(() => parseNamespacedName('no-slash')).toThrow(/NAMESPACE\/NAME/);
    expect(() => parseNamespacedName('a/B')).toThrow();
    // A namespace is a DNS label (no dots); a name may be a DNS subdomain.
    expect(() => parseNamespacedName('a.b/c')).toThrow(/NAMESPACE\/NAME/);
    expect(parseNamespacedName('ns/c.d')).toEqual({ namespace: 'ns', name: 'c.d' });
    expect(() => parseNamespacedName(`${'n'.repeat(64)}/c`)).toThrow();
  });

  it('lists the Service names from short to fully qualified', () => {
    expect(serviceDnsNames('svc', 'ns')).toEqual(['svc', 'svc.ns', 'svc.ns.svc', 'svc.ns.svc.cluster.local']);
  });
});
