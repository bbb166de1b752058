// In-cluster TLS without cert-manager: the aggregator keeps its own CA and serving certificate in one
// Secret (type kubernetes.io/tls, plus ca.crt/ca.key) and publishes the CA in a ConfigMap that the agents
// mount. Every replica converges on whatever Secret the API server holds: a write that loses a race (409)
// re-reads and adopts the winner's material. A timer re-checks and rotates the serving certificate before
// it expires; the CA is kept, and replaced only near its own expiry, with old and new CA published together.
// API calls: secrets and configmaps get/create/update in the own namespace (aggregator/k8s/api-calls.ts).
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import {
  CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1ObjectMeta,
  type V1Secret,
} from '@kubernetes/client-node';
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
  const bootstrapper = new TlsBootstrapper(options);
  await bootstrapper.start();
  return bootstrapper;
}

/** Brand-new material for the Secret: a new CA (keeping the old one as previous) or a new serving pair. */
async function issueMaterial(
  data: PemData,
  verdict: Exclude<Assessment, { state: 'ok' }>,
  t: Date,
  v: Validity,
) {
  let ca: Ca;
  const next: PemData = {};
  if (verdict.state === 'new-ca') {
    ca = await generateCa(t, v.caValidityMs);
    if (verdict.previousPem) next['ca-previous.crt'] = verdict.previousPem;
  } else {
    ca = verdict.ca;
    if (data['ca-previous.crt']) next['ca-previous.crt'] = data['ca-previous.crt'];
  }
  // Never outlive the CA that signs it.
  const notAfter = new Date(Math.min(t.getTime() + v.certValidityMs, new Date(ca.cert.validTo).getTime()));
  const serving = await issueServingCert(ca, v.dnsNames, new Date(t.getTime() - BACKDATE_MS), notAfter);
  return Object.assign(next, {
    'tls.crt': serving.certPem,
    'tls.key': serving.keyPem,
    'ca.crt': ca.certPem,
    'ca.key': ca.keyPem,
  });
}

interface Validity {
  dnsNames: string[];
  certValidityMs: number;
  caValidityMs: number;
}

/** Our object's metadata: what the cluster had, our name and namespace, and our app label added. */
function ownedMetadata(existing: V1ObjectMeta | undefined, name: string, namespace: string): V1ObjectMeta {
  return {
    ...(existing ?? {}),
    name,
    namespace,
    labels: { ...(existing?.labels ?? {}), 'app.kubernetes.io/name': 'osmo-node-validator' },
  };
}

/** Keeps the Secret and the CA ConfigMap valid; the only writer of those two objects. */
class TlsBootstrapper implements TlsBootstrap {
  private readonly options: TlsBootstrapOptions;
  private readonly caConfigMapName: string;
  private readonly now: () => Date;
  private readonly log: (level: 'info' | 'warn', message: string) => void;
  private readonly policy: Policy;
  private readonly validity: Validity;
  private readonly core: CoreV1Api;
  private current: TlsMaterial | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: TlsBootstrapOptions) {
    this.options = options;
    this.caConfigMapName = options.caConfigMapName ?? DEFAULT_CA_CONFIGMAP;
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? (() => {});
    this.policy = {
      dnsNames: options.dnsNames,
      renewBeforeMs: options.renewBeforeMs ?? 30 * DAY_MS,
      caRenewBeforeMs: options.caRenewBeforeMs ?? 365 * DAY_MS,
    };
    this.validity = {
      dnsNames: options.dnsNames,
      certValidityMs: options.certValidityMs ?? 365 * DAY_MS,
      caValidityMs: options.caValidityMs ?? 3650 * DAY_MS,
    };
    if (this.policy.dnsNames.length === 0) throw new Error('bootstrapTls: dnsNames is empty');
    if (this.policy.renewBeforeMs >= this.validity.certValidityMs)
      throw new Error('bootstrapTls: renewBeforeMs must be below certValidityMs');
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    this.current = await this.converge();
    this.schedule(this.nextDelay());
  }

  private get material(): TlsMaterial {
    if (this.current === undefined) throw new Error('TLS bootstrap has not started');
    return this.current;
  }

  get certPem(): string {
    return this.material.certPem;
  }
  get keyPem(): string {
    return this.material.keyPem;
  }
  get caPem(): string {
    return this.material.caPem;
  }
  get notAfter(): Date {
    return this.material.notAfter;
  }

  async recheck(): Promise<void> {
    try {
      const next = await this.converge();
      const changed = next.certPem !== this.material.certPem || next.caPem !== this.material.caPem;
      this.current = next;
      if (changed) {
        this.log(
          'info',
          `TLS bootstrap: serving certificate rotated, valid until ${next.notAfter.toISOString()}`,
        );
        this.options.onRotate?.(next.certPem, next.keyPem, next.caPem);
      }
      this.schedule(this.nextDelay());
    } catch (e) {
      this.log('warn', `TLS bootstrap: re-check failed (${describeApiError(e)}); retrying`);
      this.schedule(this.options.retryMs ?? 5 * 60 * 1000);
      throw e;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.recheck().catch(() => {});
    }, delayMs);
    this.timer.unref();
  }

  private nextDelay(): number {
    const dueIn = this.material.notAfter.getTime() - this.policy.renewBeforeMs - this.now().getTime();
    return Math.max(60_000, Math.min(this.options.checkIntervalMs ?? 12 * 60 * 60 * 1000, dueIn));
  }

  private async converge(): Promise<TlsMaterial> {
    const data = await this.ensureSecret();
    const caPem = caBundle(data, this.now());
    await this.publishCa(caPem);
    const cert = new X509Certificate(data['tls.crt'] as string);
    return {
      certPem: data['tls.crt'] as string,
      keyPem: data['tls.key'] as string,
      caPem,
      notAfter: new Date(cert.validTo),
    };
  }

  /** Makes the Secret hold valid material (writing only when needed) and returns its data. */
  private async ensureSecret(): Promise<PemData> {
    const { namespace, secretName } = this.options;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const secret = await orNull(this.core.readNamespacedSecret({ name: secretName, namespace }));
      const data = decodeData(secret);
      const t = this.now();
      const verdict = assess(data, t, this.policy);
      if (verdict.state === 'ok') return data;
      const what = verdict.state === 'new-ca' ? 'a new CA and ' : '';
      this.log('info', `TLS bootstrap: ${verdict.reason}; issuing ${what}a serving certificate`);
      const next = await issueMaterial(data, verdict, t, this.validity);
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: ownedMetadata(secret?.metadata, secretName, namespace),
        data: encodeData(next),
      };
      try {
        if (secret === null) await this.core.createNamespacedSecret({ namespace, body });
        else await this.core.replaceNamespacedSecret({ name: secretName, namespace, body });
        return next;
      } catch (e) {
        // 409: another replica wrote first (create: AlreadyExists; update: stale resourceVersion). Adopt its.
        if (apiStatus(e) !== 409 || attempt === MAX_WRITE_ATTEMPTS) throw e;
        this.log('info', 'TLS bootstrap: the Secret changed under us (409); re-reading it');
      }
    }
    throw new Error('unreachable');
  }

  private async publishCa(bundle: string): Promise<void> {
    const { namespace } = this.options;
    const name = this.caConfigMapName;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const cm = await orNull(this.core.readNamespacedConfigMap({ name, namespace }));
      if (cm?.data?.[CA_KEY] === bundle) return;
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: ownedMetadata(cm?.metadata, name, namespace),
        data: { ...(cm?.data ?? {}), [CA_KEY]: bundle },
      };
      try {
        if (cm === null) await this.core.createNamespacedConfigMap({ namespace, body });
        else await this.core.replaceNamespacedConfigMap({ name, namespace, body });
        return;
      } catch (e) {
        if (apiStatus(e) !== 409 || attempt === MAX_WRITE_ATTEMPTS) throw e;
      }
    }
  }
}
