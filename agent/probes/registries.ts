// Registry reachability as the node itself would see it: the name is resolved with the host's resolver
// (`getent ahosts` run as a host command, so the host's nsswitch, /etc/hosts mirror entries and resolv.conf
// apply, not the pod's cluster DNS), then HTTPS GET /v2/ to that address with the name as TLS server name
// and Host header, trusting what the host trusts. A registry answering 200 or 401 is reachable.
// Unreachable registries are facts, not probe failures.
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { getCACertificates } from 'node:tls';
import { parseRegistryHost } from '../../report/grammars.js';
import { LIMITS } from '../../report/limits.js';
import type { RegistryResult } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import { type ResolvedAddress, resolveAsHost } from './host-resolve.js';
import type { Probe } from './probe.js';
import { excerpt, readOptional, realHostPath } from './support.js';

export const DEFAULT_REGISTRIES = ['nvcr.io', 'ghcr.io', 'docker.io'];

/** docker.io's API lives at registry-1.docker.io. */
const ENDPOINT_ALIASES: ReadonlyMap<string, string> = new Map([['docker.io', 'registry-1.docker.io']]);

/** The host's CA bundle: the first that exists (Debian/Ubuntu, RHEL/Fedora, SUSE). */
export const HOST_CA_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
];
/** containerd's per-registry trust: `<dir>/<host[:port]>/*.crt` (the hosts.toml layout). */
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
/** Bounds on what is read from certs.d: a directory of thousands of files must not stall the probe. */
const MAX_REGISTRY_CERT_FILES = 16;
const MAX_CERT_FILE_BYTES = 1024 * 1024;
const MAX_ERROR = LIMITS.registry.error;

export interface RegistryTarget {
  host: string;
  /** Host name or IP actually contacted (no brackets). */
  hostname: string;
  port: number;
  /** hostname[:port] as recorded in facts. */
  endpoint: string;
}

/** A registry `host[:port]` (report/grammars.ts, as --registries accepts it); ProbeFailure('parse') otherwise. */
export function parseRegistryTarget(spec: string): RegistryTarget {
  const s = spec.trim();
  const parsed = parseRegistryHost(s);
  if (!parsed) throw new ProbeFailure('parse', `registry ${excerpt(spec)} is not host[:port]`);
  const port = parsed.port ?? 443;
  const hostname = ENDPOINT_ALIASES.get(parsed.name.toLowerCase()) ?? parsed.name;
  const shownHost = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
  return { host: s, hostname, port, endpoint: parsed.port === null ? shownHost : `${shownHost}:${port}` };
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  return (err.message || String(e)).slice(0, MAX_ERROR);
}

/** The addresses the host would contact for `name`, or why there are none (RegistryResult.error). */
async function hostAddresses(
  host: HostContext,
  name: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ addresses: ResolvedAddress[] } | { error: string }> {
  const r = await resolveAsHost(host, name, timeoutMs, signal);
  switch (r.kind) {
    case 'resolved':
      return { addresses: r.addresses };
    case 'not-found':
      return { error: 'ENOTFOUND' }; // dns.lookup's word for it
    case 'timeout':
      return { error: `timeout after ${timeoutMs}ms` };
    case 'unknown':
      return { error: r.reason.slice(0, MAX_ERROR) };
  }
}

/** The host's CA bundle (first of HOST_CA_BUNDLES that exists), read under the host root; null when none. */
async function hostCaBundle(host: HostContext): Promise<string | null> {
  for (const file of HOST_CA_BUNDLES) {
    const text = await readOptional(host, file);
    if (text !== null) return text;
  }
  return null;
}

/** `*.crt` of containerd's certs.d directory for this registry (by name as configured, and endpoint). */
async function containerdRegistryCerts(host: HostContext, target: RegistryTarget): Promise<string[]> {
  const certs: string[] = [];
  for (const name of new Set([target.host, target.endpoint])) {
    if (name === '.' || name === '..') continue;
    const dir = `${CONTAINERD_CERTS_DIR}/${name}`;
    let entries: string[];
    try {
      entries = await readdir(await realHostPath(host, dir));
    } catch {
      continue; // no such directory: nothing extra to trust
    }
    const files = entries.filter((e) => e.endsWith('.crt')).sort();
    for (const file of files.slice(0, MAX_REGISTRY_CERT_FILES)) {
      const text = await readOptional(host, `${dir}/${file}`, MAX_CERT_FILE_BYTES);
      if (text !== null) certs.push(text);
    }
  }
  return certs;
}

/**
 * A `lookup` for https.request that answers with what the host resolved: every address when asked for all
 * (Node then tries each in turn, happy eyeballs across families), else the first.
 */
function lookupFrom(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const first = addresses[0]!;
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  };
}

function httpsStatus(
  target: RegistryTarget,
  /** The host's addresses for a name; null when the registry is named by an IP address. */
  addresses: ResolvedAddress[] | null,
  ca: string[],
  timeoutMs: number,
  /** The configured bound, for the message: it must not vary between runs (the agent's fingerprint). */
  configuredMs: number,
  signal: AbortSignal,
) {
  const named = isIP(target.hostname) === 0;
  return new Promise<number>((resolve, reject) => {
    const req = request({
      // The addresses the host resolved, tried in its order; the name goes into SNI, certificate
      // verification and Host.
      host: target.hostname,
      ...(addresses === null ? {} : { lookup: lookupFrom(addresses), autoSelectFamily: true }),
      port: target.port,
      path: '/v2/',
      method: 'GET',
      agent: false,
      ...(named ? { servername: target.hostname } : {}),
      ca,
      headers: { host: target.endpoint, 'user-agent': 'osmo-node-validator' },
    });
    const fail = (e: Error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(e);
    };
    const onAbort = () => fail(new Error(`timeout after ${configuredMs}ms`));
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => fail(e));
    req.end();
  });
}

export interface RegistryProbeOptions {
  timeoutMs: number;
  /** Trust shared by every registry (Node's roots + the host's bundle + --registry CA file). */
  ca?: string[] | undefined;
}

export async function probeRegistry(
  host: HostContext,
  target: RegistryTarget,
  options: RegistryProbeOptions,
  signal: AbortSignal,
): Promise<RegistryResult> {
  const base = { host: target.host, endpoint: target.endpoint };
  const failed = (dnsResolved: boolean, error: string): RegistryResult => ({
    ...base,
    reachable: false,
    dnsResolved,
    httpStatus: null,
    latencyMs: null,
    error,
  });
  const started = performance.now();
  let addresses: ResolvedAddress[] | null = null;
  if (!isIP(target.hostname)) {
    const resolved = await hostAddresses(host, target.hostname, options.timeoutMs, signal);
    if ('error' in resolved) return failed(false, resolved.error);
    addresses = resolved.addresses;
  }
  let ca: string[];
  try {
    ca = [...(options.ca ?? getCACertificates('default')), ...(await containerdRegistryCerts(host, target))];
  } catch (e) {
    return failed(true, describe(e));
  }
  // One bound for resolving and asking; what is left of it for the request.
  const remaining = Math.max(1, options.timeoutMs - Math.round(performance.now() - started));
  const requestStart = performance.now();
  try {
    const status = await httpsStatus(target, addresses, ca, remaining, options.timeoutMs, signal);
    const latencyMs = Math.round((performance.now() - requestStart) * 10) / 10;
    const reachable = status === 200 || status === 401;
    return {
      ...base,
      reachable,
      dnsResolved: true,
      httpStatus: status >= 100 && status <= 599 ? status : null,
      latencyMs,
      error: reachable ? null : `unexpected HTTP status ${status} from /v2/`,
    };
  } catch (e) {
    return failed(true, describe(e));
  }
}

export const registriesProbe: Probe<'registries', RegistryResult[] | null> = {
  name: 'registries',
  timeoutMs: 15_000,
  async run(host, options, signal) {
    if (options.registries === null) return null;
    // Every name is checked before any network call (--registries already refuses a bad one).
    const targets = options.registries.slice(0, LIMITS.facts.registryItems).map(parseRegistryTarget);
    // Node's roots (and NODE_EXTRA_CA_CERTS) plus the host's own bundle: corporate mirrors and proxies
    // are commonly signed by a private CA that only the host trusts.
    const ca = [...getCACertificates('default')];
    const bundle = await hostCaBundle(host);
    if (bundle !== null) ca.push(bundle);
    if (options.registryCaFile) {
      try {
        ca.push(await readFile(options.registryCaFile, 'utf8'));
      } catch (e) {
        throw new ProbeFailure(
          'read',
          `cannot read registry CA file ${options.registryCaFile}: ${(e as Error).message}`,
        );
      }
    }
    return Promise.all(
      targets.map((t) => probeRegistry(host, t, { timeoutMs: options.registryTimeoutMs, ca }, signal)),
    );
  },
};
