// Encryption at rest on a control-plane host with a kube-apiserver static pod: the
// --encryption-provider-config flag, the host file it names (the flag's path is inside the API server's
// container: translated through the pod's hostPath volumes), and what that EncryptionConfiguration does
// with every resource (encryption-config.ts). Unreadable or not understood → enabled null, saying why.
import { LIMITS } from '../../report/limits.js';
import type { ApiServerEncryptionFacts } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { readEncryptionAtRest } from './encryption-config.js';
import type { Probe } from './probe.js';
import { boundedString, readOptional } from './support.js';

export const KUBE_APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
/**
 * The most of the manifest read: kubeadm's is ~4 KB. It is parsed as YAML, which takes many times the
 * text's size in heap: a 4 MiB manifest (the host context's default read) ran the agent with the
 * DaemonSet's flags out of heap.
 */
export const KUBE_APISERVER_MANIFEST_MAX_BYTES = 256 * 1024;

/** The --encryption-provider-config path in a kube-apiserver manifest (flag=value or quoted); null if absent. */
export function findEncryptionConfigFlag(manifest: string): string | null {
  // The value ends at a quote, a blank, or a YAML flow list's `,`/`]`.
  const m = /--encryption-provider-config(?:=|\s+)["']?([^"'\s,\]]+)["']?/.exec(manifest);
  return m
    ? boundedString(
        m[1]!,
        LIMITS.apiServerEncryption.encryptionConfigPath,
        '--encryption-provider-config path',
      )
    : null;
}

interface PodMount {
  mountPath: string;
  hostPath: string;
}

/** The kube-apiserver container's volumeMounts that are hostPath volumes, as (mountPath, hostPath) pairs. */
export async function hostPathMounts(manifest: string): Promise<PodMount[] | null> {
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(manifest);
  } catch {
    return null;
  }
  const spec = (doc as { spec?: { containers?: unknown; volumes?: unknown } } | null)?.spec;
  const volumes = new Map<string, string>();
  for (const v of Array.isArray(spec?.volumes) ? spec.volumes : []) {
    const path = v?.hostPath?.path;
    if (typeof v?.name === 'string' && typeof path === 'string') volumes.set(v.name, path);
  }
  const containers: unknown[] = Array.isArray(spec?.containers) ? spec.containers : [];
  const apiServer = (containers.find((c) => (c as { name?: unknown })?.name === 'kube-apiserver') ??
    containers[0]) as { volumeMounts?: unknown } | undefined;
  const mounts: PodMount[] = [];
  for (const m of Array.isArray(apiServer?.volumeMounts) ? apiServer.volumeMounts : []) {
    const hostPath = typeof m?.name === 'string' ? volumes.get(m.name) : undefined;
    if (hostPath !== undefined && typeof m?.mountPath === 'string' && m.subPath === undefined) {
      mounts.push({ mountPath: m.mountPath, hostPath });
    }
  }
  return mounts;
}

/**
 * The host path of a path inside the API server's container: the deepest hostPath volume mounted at or
 * above it (as the container sees it), or null when no hostPath volume holds it (the file is not on the host).
 */
export function translateToHost(containerPath: string, mounts: PodMount[]): string | null {
  const trim = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  let best: PodMount | null = null;
  for (const m of mounts) {
    const mp = trim(m.mountPath);
    const under = containerPath === mp || containerPath.startsWith(mp === '/' ? '/' : `${mp}/`);
    if (under && (best === null || mp.length > trim(best.mountPath).length)) best = m;
  }
  if (best === null) return null;
  const rest = containerPath.slice(trim(best.mountPath).length).replace(/^\/+/, '');
  const base = trim(best.hostPath);
  return rest === '' ? base : `${base === '/' ? '' : base}/${rest}`;
}

const cut = (s: string) => s.slice(0, LIMITS.apiServerEncryption.unknownReason);

async function encryptionFacts(
  host: HostContext,
  manifest: string,
  configPath: string,
): Promise<ApiServerEncryptionFacts> {
  const unknown = (reason: string): ApiServerEncryptionFacts => ({
    manifestFound: true,
    encryptionConfigPath: configPath,
    firstProvider: null,
    enabled: null,
    unknownReason: cut(reason),
  });
  const mounts = await hostPathMounts(manifest);
  if (mounts === null)
    return unknown('kube-apiserver.yaml is not YAML: cannot map the config path to the host');
  const hostPath = translateToHost(configPath, mounts);
  if (hostPath === null) {
    return unknown(`${configPath} is not under a hostPath volume of the kube-apiserver pod`);
  }
  const result = await readEncryptionAtRest(host, hostPath);
  if (!result.known) return unknown(result.reason);
  const v = result.value;
  const provider = (p: string) => boundedString(p, LIMITS.apiServerEncryption.firstProvider, 'provider');
  const name = (n: string) => boundedString(n, LIMITS.apiServerEncryption.resource, 'resource name');
  return {
    manifestFound: true,
    encryptionConfigPath: configPath,
    hostConfigPath: boundedString(hostPath, LIMITS.apiServerEncryption.encryptionConfigPath, 'config path'),
    firstProvider: provider(v.rules[0]!.provider),
    enabled: v.secretsEncrypted,
    rules: v.rules.slice(0, LIMITS.apiServerEncryption.ruleItems).map((r) => ({
      resources: r.resources.slice(0, LIMITS.apiServerEncryption.resourceItems).map(name),
      provider: provider(r.provider),
    })),
    secrets: v.secrets && { provider: provider(v.secrets.provider), matchedBy: name(v.secrets.matchedBy) },
    encrypted: v.encrypted
      .slice(0, LIMITS.apiServerEncryption.resourceItems)
      .map((e) => ({ resource: name(e.resource), provider: provider(e.provider) })),
  };
}

export const apiServerEncryptionProbe: Probe<'apiServerEncryption', ApiServerEncryptionFacts | null> = {
  name: 'apiServerEncryption',
  timeoutMs: 3000,
  async run(host) {
    const manifest = await readOptional(host, KUBE_APISERVER_MANIFEST, KUBE_APISERVER_MANIFEST_MAX_BYTES);
    if (manifest === null) return null;
    const configPath = findEncryptionConfigFlag(manifest);
    if (configPath === null) {
      return { manifestFound: true, encryptionConfigPath: null, firstProvider: null, enabled: false };
    }
    return encryptionFacts(host, manifest, configPath);
  },
};
