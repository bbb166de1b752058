// In-cluster TLS without cert-manager: the aggregator keeps its own CA and serving certificate in one
// Secret (type kubernetes.io/tls, plus ca.crt/ca.key) and publishes the CA in a ConfigMap that the agents
// mount. Every replica converges on whatever Secret the API server holds: a write that loses a race (409)
// re-reads and adopts the winner's material. A timer re-checks and rotates the serving certificate before
// it expires; the CA is kept, and replaced only near its own expiry, with old and new CA published together.
// API calls: secrets and configmaps get/create/update in the own namespace (aggregator/k8s/api-calls.ts).
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
// selfsigned (EC P-256 via WebCrypto) issues; node:crypto's X509Certificate checks. (@peculiar/x509 v2
// needs a Reflect metadata polyfill that is not a dependency of this package.)
import { generate } from 'selfsigned';
import { errorMessage } from '../../report/error-message.js';
import { apiStatus, describeApiError } from '../k8s/api-errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating absorbs clock skew between the aggregator and the agents. */
const BACKDATE_MS = 5 * 60 * 1000;
const MAX_WRITE_ATTEMPTS = 4;

export const DEFAULT_CA_CONFIGMAP = 'osmo-node-validator-ca';
export const CA_KEY = 'ca.crt';

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** What clients should trust: the current CA, plus the previous one while a CA rotation is under way. */
  caPem: string;
  /** The serving certificate's expiry. */
  notAfter: Date;
}

export interface TlsBootstrapOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  secretName: string;
  caConfigMapName?: string;
  /** SANs of the serving certificate (see serviceDnsNames()). */
  dnsNames: string[];
  /** Called after the timer (or recheck()) switched to a new serving certificate. */
  onRotate?: (certPem: string, keyPem: string, caPem: string) => void;
  /** Renew the serving certificate this long before it expires (default 30 days). */
  renewBeforeMs?: number;
  /** Replace the CA this long before it expires (default 365 days). */
  caRenewBeforeMs?: number;
  certValidityMs?: number;
  caValidityMs?: number;
  /** How often the timer re-reads the Secret (default 12 h; earlier when renewal is due sooner). */
  checkIntervalMs?: number;
  /** After a failed re-check (default 5 min). */
  retryMs?: number;
  now?: () => Date;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface TlsBootstrap extends TlsMaterial {
  /** Re-reads the Secret now, rotating when due; calls onRotate when the serving certificate changed. */
  recheck(): Promise<void>;
  stop(): void;
}

/** The names agents may use for the Service, short to fully qualified. */
export function serviceDnsNames(
  service: string,
  namespace: string,
  clusterDomain = 'cluster.local',
): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
  ];
}

// ---- issuing ----

interface Ca {
  cert: X509Certificate;
  key: KeyObject;
  certPem: string;
  keyPem: string;
}

const EC = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;

async function generateCa(now: Date, validityMs: number): Promise<Ca> {
  const pems = await generate(
    [{ name: 'commonName', value: `osmo-node-validator CA ${now.toISOString().slice(0, 10)}` }],
    {
      ...EC,
      notBeforeDate: new Date(now.getTime() - BACKDATE_MS),
      notAfterDate: new Date(now.getTime() + validityMs),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  return {
    cert: new X509Certificate(pems.cert),
    key: createPrivateKey(pems.private),
    certPem: pems.cert,
    keyPem: pems.private,
  };
}

export async function issueServingCert(
  ca: { certPem: string; keyPem: string },
  dnsNames: string[],
  notBefore: Date,
  notAfter: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const pems = await generate([{ name: 'commonName', value: dnsNames[0] ?? 'osmo-node-validator' }], {
    ...EC,
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    ca: { cert: ca.certPem, key: ca.keyPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

// ---- the Secret's contents ----

/** Secret data keys. `ca-previous.crt` keeps the replaced CA trusted until it expires. */
const K = {
  cert: 'tls.crt',
  key: 'tls.key',
  ca: 'ca.crt',
  caKey: 'ca.key',
  previousCa: 'ca-previous.crt',
} as const;

type PemData = Partial<Record<(typeof K)[keyof typeof K], string>>;

function decodeData(secret: V1Secret | null): PemData {
  const out: PemData = {};
  for (const k of Object.values(K)) {
    const b64 = secret?.data?.[k];
    if (b64) out[k] = Buffer.from(b64, 'base64').toString('utf8');
  }
  return out;
}

function encodeData(data: PemData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (v) out[k] = Buffer.from(v, 'utf8').toString('base64');
  return out;
}

type Assessment =
  | { state: 'ok'; ca: Ca; notAfter: Date }
  | { state: 'renew-serving'; ca: Ca; reason: string }
  | { state: 'new-ca'; previousPem: string | null; reason: string };

interface Policy {
  dnsNames: string[];
  renewBeforeMs: number;
  caRenewBeforeMs: number;
}

function loadCa(data: PemData): Ca | string {
  if (!data['ca.crt'] || !data['ca.key']) return 'no CA in the Secret';
  try {
    const cert = new X509Certificate(data['ca.crt']);
    const key = createPrivateKey(data['ca.key']);
    if (!cert.ca) return 'ca.crt is not a CA certificate';
    if (!cert.checkPrivateKey(key)) return 'ca.key does not match ca.crt';
    return { cert, key, certPem: data['ca.crt'], keyPem: data['ca.key'] };
  } catch (e) {
    return `the CA does not parse: ${errorMessage(e)}`;
  }
}

/** DNS names of a certificate's subjectAltName (`DNS:a, DNS:b`). */
function dnsNamesOf(cert: X509Certificate): Set<string> {
  return new Set(
    (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4)),
  );
}

function assess(data: PemData, now: Date, policy: Policy): Assessment {
  const ca = loadCa(data);
  if (typeof ca === 'string') return { state: 'new-ca', previousPem: null, reason: ca };
  const caLeft = new Date(ca.cert.validTo).getTime() - now.getTime();
  if (caLeft <= policy.caRenewBeforeMs) {
    return {
      state: 'new-ca',
      previousPem: caLeft > 0 ? ca.certPem : null,
      reason: `the CA expires ${ca.cert.validTo}`,
    };
  }
  const renew = (reason: string): Assessment => ({ state: 'renew-serving', ca, reason });
  if (!data['tls.crt'] || !data['tls.key']) return renew('no serving certificate');
  try {
    const cert = new X509Certificate(data['tls.crt']);
    if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) {
      return renew('the serving certificate is not signed by the CA');
    }
    if (!cert.checkPrivateKey(createPrivateKey(data['tls.key'])))
      return renew('tls.key does not match tls.crt');
    const names = dnsNamesOf(cert);
    const missing = policy.dnsNames.filter((d) => !names.has(d));
    if (missing.length > 0) return renew(`the certificate lacks ${missing.join(', ')}`);
    const notAfter = new Date(cert.validTo);
    if (new Date(cert.validFrom).getTime() > now.getTime())
      return renew('the serving certificate is not yet valid');
    if (notAfter.getTime() - now.getTime() <= policy.renewBeforeMs) {
      return renew(`the serving certificate expires ${cert.validTo}`);
    }
    return { state: 'ok', ca, notAfter };
  } catch (e) {
    return renew(`the serving certificate does not parse: ${errorMessage(e)}`);
  }
}

/** The CA bundle agents trust: the current CA and a still-valid previous one. */
function caBundle(data: PemData, now: Date): string {
  const pems = [data['ca.crt']];
  const prev = data['ca-previous.crt'];
  if (prev) {
    try {
      if (new Date(new X509Certificate(prev).validTo).getTime() > now.getTime()) pems.push(prev);
    } catch {
      // an unreadable previous CA is simply not published
    }
  }
  return pems
    .filter((p): p is string => Boolean(p))
    .map((p) => `${p.trim()}\n`)
    .join('');
}

// ---- the API ----

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (apiStatus(e) === 404) return null;
    throw e;
  }
}

export async function bootstrapTls(options: TlsBootstrapOptions): Promise<TlsBootstrap> {
  const { namespace, secretName } = options;
  const caConfigMapName = options.caConfigMapName ?? DEFAULT_CA_CONFIGMAP;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const policy: Policy = {
    dnsNames: options.dnsNames,
    renewBeforeMs: options.renewBeforeMs ?? 30 * DAY_MS,
    caRenewBeforeMs: options.caRenewBeforeMs ?? 365 * DAY_MS,
  };
  const certValidityMs = options.certValidityMs ?? 365 * DAY_MS;
  const caValidityMs = options.caValidityMs ?? 3650 * DAY_MS;
  if (policy.dnsNames.length === 0) throw new Error('bootstrapTls: dnsNames is empty');
  if (policy.renewBeforeMs >= certValidityMs)
    throw new Error('bootstrapTls: renewBeforeMs must be below certValidityMs');
  const core = options.kubeConfig.makeApiClient(CoreV1Api);

  /** Makes the Secret hold valid material (writing only when needed) and returns its data. */
  async function ensureSecret(): Promise<PemData> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const secret = await orNull(core.readNamespacedSecret({ name: secretName, namespace }));
      const data = decodeData(secret);
      const t = now();
      const verdict = assess(data, t, policy);
      if (verdict.state === 'ok') return data;
      log(
        'info',
        `TLS bootstrap: ${verdict.reason}; issuing ${verdict.state === 'new-ca' ? 'a new CA and ' : ''}a serving certificate`,
      );
      let ca: Ca;
      const next: PemData = {};
      if (verdict.state === 'new-ca') {
        ca = await generateCa(t, caValidityMs);
        if (verdict.previousPem) next['ca-previous.crt'] = verdict.previousPem;
      } else {
        ca = verdict.ca;
        if (data['ca-previous.crt']) next['ca-previous.crt'] = data['ca-previous.crt'];
      }
      // Never outlive the CA that signs it.
      const notAfter = new Date(Math.min(t.getTime() + certValidityMs, new Date(ca.cert.validTo).getTime()));
      const serving = await issueServingCert(
        ca,
        policy.dnsNames,
        new Date(t.getTime() - BACKDATE_MS),
        notAfter,
      );
      Object.assign(next, {
        'tls.crt': serving.certPem,
        'tls.key': serving.keyPem,
        'ca.crt': ca.certPem,
        'ca.key': ca.keyPem,
      });
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: {
          ...(secret?.metadata ?? {}),
          name: secretName,
          namespace,
          labels: { ...(secret?.metadata?.labels ?? {}), 'app.kubernetes.io/name': 'osmo-node-validator' },
        },
        data: encodeData(next),
      };
      try {
        if (secret === null) await core.createNamespacedSecret({ namespace, body });
        else await core.replaceNamespacedSecret({ name: secretName, namespace, body });
        return next;
      } catch (e) {
        // 409: another replica wrote first (create: AlreadyExists; update: stale resourceVersion). Adopt its.
        if (apiStatus(e) !== 409 || attempt === MAX_WRITE_ATTEMPTS) throw e;
        log('info', 'TLS bootstrap: the Secret changed under us (409); re-reading it');
      }
    }
    throw new Error('unreachable');
  }

  async function publishCa(bundle: string): Promise<void> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const cm = await orNull(core.readNamespacedConfigMap({ name: caConfigMapName, namespace }));
      if (cm?.data?.[CA_KEY] === bundle) return;
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          ...(cm?.metadata ?? {}),
          name: caConfigMapName,
          namespace,
          labels: { ...(cm?.metadata?.labels ?? {}), 'app.kubernetes.io/name': 'osmo-node-validator' },
        },
        data: { ...(cm?.data ?? {}), [CA_KEY]: bundle },
      };
      try {
        if (cm === null) await core.createNamespacedConfigMap({ namespace, body });
        else await core.replaceNamespacedConfigMap({ name: caConfigMapName, namespace, body });
        return;
      } catch (e) {
        if (apiStatus(e) !== 409 || attempt === MAX_WRITE_ATTEMPTS) throw e;
      }
    }
  }

  async function converge(): Promise<TlsMaterial> {
    const data = await ensureSecret();
    const caPem = caBundle(data, now());
    await publishCa(caPem);
    const cert = new X509Certificate(data['tls.crt'] as string);
    return {
      certPem: data['tls.crt'] as string,
      keyPem: data['tls.key'] as string,
      caPem,
      notAfter: new Date(cert.validTo),
    };
  }

  let current = await converge();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function schedule(delayMs: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      handle.recheck().catch(() => {});
    }, delayMs);
    timer.unref();
  }

  function nextDelay(): number {
    const dueIn = current.notAfter.getTime() - policy.renewBeforeMs - now().getTime();
    return Math.max(60_000, Math.min(options.checkIntervalMs ?? 12 * 60 * 60 * 1000, dueIn));
  }

  const handle: TlsBootstrap = {
    get certPem() {
      return current.certPem;
    },
    get keyPem() {
      return current.keyPem;
    },
    get caPem() {
      return current.caPem;
    },
    get notAfter() {
      return current.notAfter;
    },
    async recheck() {
      try {
        const next = await converge();
        const changed = next.certPem !== current.certPem || next.caPem !== current.caPem;
        current = next;
        if (changed) {
          log(
            'info',
            `TLS bootstrap: serving certificate rotated, valid until ${next.notAfter.toISOString()}`,
          );
          options.onRotate?.(next.certPem, next.keyPem, next.caPem);
        }
        schedule(nextDelay());
      } catch (e) {
        log('warn', `TLS bootstrap: re-check failed (${describeApiError(e)}); retrying`);
        schedule(options.retryMs ?? 5 * 60 * 1000);
        throw e;
      }
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
  schedule(nextDelay());
  return handle;
}
