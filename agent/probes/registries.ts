// Registry reachability as the node itself would see it: the name is resolved with the host's resolver
// (`getent ahosts` run as a host command, so the host's nsswitch, /etc/hosts mirror entries and resolv.conf
// apply, not the pod's cluster DNS), then HTTPS GET /v2/ to that address with the name as TLS server name
// and Host header, trusting what the host trusts (host-https.ts). A registry answering 200 or 401 is
// reachable. Then, with an image to pull (given in --registries or the registry's default), the pull is
// tried anonymously (registry-pull.ts): a proxy that passes /v2/ but blocks pulls shows there.
// Unreachable registries are facts, not probe failures.
import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseRegistryReference } from '../../report/grammars.js';
import { LIMITS } from '../../report/limits.js';
import type { RegistryPull, RegistryResult } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import { deadlineIn, exchangeAsHost, hostTrust } from './host-https.js';
import type { Probe } from './probe.js';
import { DEFAULT_PULL_IMAGES, probePull } from './registry-pull.js';
import { excerpt, readOptional, realHostPath } from './support.js';

export { HOST_CA_BUNDLES } from './host-https.js';

export const DEFAULT_REGISTRIES = ['nvcr.io', 'ghcr.io', 'docker.io'];

/** docker.io's API lives at registry-1.docker.io. */
const ENDPOINT_ALIASES: ReadonlyMap<string, string> = new Map([['docker.io', 'registry-1.docker.io']]);

/** containerd's per-registry trust: `<dir>/<host[:port]>/*.crt` (the hosts.toml layout). */
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
/** Bounds on what is read from certs.d: a directory of thousands of files must not stall the probe. */
const MAX_REGISTRY_CERT_FILES = 16;
const MAX_CERT_FILE_BYTES = 1024 * 1024;

export interface RegistryTarget {
  /** host[:port] as configured (without the image). */
  host: string;
  /** Host name or IP actually contacted (no brackets). */
  hostname: string;
  port: number;
  /** hostname[:port] as recorded in facts. */
  endpoint: string;
  /** The image whose manifest is pulled: as given, else the registry's default; null: none. */
  image: { repository: string; tag: string } | null;
}

/**
 * A --registries entry, `host[:port][/repository[:tag]]` (report/grammars.ts); ProbeFailure('parse')
 * otherwise. Without an image, a well-known registry on its default port gets its default image.
 */
export function parseRegistryTarget(spec: string): RegistryTarget {
  const s = spec.trim();
  const parsed = parseRegistryReference(s);
  if (!parsed) {
    throw new ProbeFailure('parse', `registry ${excerpt(spec)} is not host[:port][/repository[:tag]]`);
  }
  const port = parsed.port ?? 443;
  const hostname = ENDPOINT_ALIASES.get(parsed.name.toLowerCase()) ?? parsed.name;
  const shownHost = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
  const given =
    parsed.repository === null ? null : { repository: parsed.repository, tag: parsed.tag ?? 'latest' };
  const fallback = parsed.port === null ? (DEFAULT_PULL_IMAGES.get(parsed.name.toLowerCase()) ?? null) : null;
  return {
    host: parsed.hostText,
    hostname,
    port,
    endpoint: parsed.port === null ? shownHost : `${shownHost}:${port}`,
    image: given ?? fallback,
  };
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

export interface RegistryProbeOptions {
  /** Bounds /v2/ (resolving included), and the pull (token and manifest) again. */
  timeoutMs: number;
  /** Trust shared by every registry (Node's roots + the host's bundle + --registry CA file). */
  ca: string[];
}

/** The pull when it is not tried. */
function notTested(target: RegistryTarget, error: string): RegistryPull {
  const image = target.image === null ? null : `${target.image.repository}:${target.image.tag}`;
  return { image, status: 'not-tested', httpStatus: null, error };
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
    pull: notTested(target, 'the registry is not reachable'),
  });
  const endpoint = { hostname: target.hostname, port: target.port, hostHeader: target.endpoint };
  let ca: string[];
  try {
    ca = [...options.ca, ...(await containerdRegistryCerts(host, target))];
  } catch (e) {
    return failed(true, (e as Error).message.slice(0, LIMITS.registry.error));
  }
  // One bound for resolving and asking.
  const v2 = await exchangeAsHost(
    host,
    endpoint,
    { method: 'GET', path: '/v2/' },
    ca,
    deadlineIn(options.timeoutMs, signal),
  );
  if ('error' in v2) return failed(v2.dnsResolved, v2.error);
  const status = v2.answer.status;
  const reachable = status === 200 || status === 401;
  const pull = !reachable
    ? notTested(target, 'the registry is not reachable')
    : target.image === null
      ? notTested(target, 'no image configured to pull (give one as host/repository:tag)')
      : await probePull(
          { host, registry: endpoint, ...target.image, ca, deadline: deadlineIn(options.timeoutMs, signal) },
          status,
          v2.answer.headers,
        );
  return {
    ...base,
    reachable,
    dnsResolved: true,
    httpStatus: status >= 100 && status <= 599 ? status : null,
    latencyMs: v2.latencyMs,
    error: reachable ? null : `unexpected HTTP status ${status} from /v2/`,
    pull,
  };
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
    const ca = await hostTrust(host);
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
