// Encryption at rest on a control-plane host with a kube-apiserver static pod: the
// --encryption-provider-config flag and the first provider of the EncryptionConfiguration it names.
import { LIMITS } from '../../report/limits.js';
import type { ApiServerEncryptionFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedString, excerpt, readOptional } from './support.js';

export const KUBE_APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';

/** The --encryption-provider-config path in a kube-apiserver manifest (flag=value or quoted); null if absent. */
export function findEncryptionConfigFlag(manifest: string): string | null {
  const m = /--encryption-provider-config(?:=|\s+)["']?([^"'\s]+)["']?/.exec(manifest);
  return m
    ? boundedString(
        m[1]!,
        LIMITS.apiServerEncryption.encryptionConfigPath,
        '--encryption-provider-config path',
      )
    : null;
}

/** First provider key of the first resource: `aescbc`, `kms`, `secretbox`, `identity`, ... */
export async function parseEncryptionConfiguration(text: string): Promise<string> {
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ProbeFailure(
      'parse',
      `EncryptionConfiguration is not YAML: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  const resources = (doc as { resources?: unknown } | null)?.resources;
  const first = Array.isArray(resources) ? (resources[0] as { providers?: unknown } | undefined) : undefined;
  const providers = first?.providers;
  const provider = Array.isArray(providers) ? providers[0] : undefined;
  const key = typeof provider === 'object' && provider !== null ? Object.keys(provider)[0] : undefined;
  if (!key)
    throw new ProbeFailure(
      'parse',
      `EncryptionConfiguration has no resources[0].providers[0]: ${excerpt(text)}`,
    );
  return boundedString(key, LIMITS.apiServerEncryption.firstProvider, 'EncryptionConfiguration provider');
}

export const apiServerEncryptionProbe: Probe<'apiServerEncryption', ApiServerEncryptionFacts | null> = {
  name: 'apiServerEncryption',
  timeoutMs: 3000,
  async run(host) {
    const manifest = await readOptional(host, KUBE_APISERVER_MANIFEST);
    if (manifest === null) return null;
    const configPath = findEncryptionConfigFlag(manifest);
    if (configPath === null) {
      return { manifestFound: true, encryptionConfigPath: null, firstProvider: null, enabled: false };
    }
    let firstProvider: string | null = null;
    try {
      const config = await host.readFile(configPath);
      firstProvider = await parseEncryptionConfiguration(config);
    } catch {
      // Unreadable or not understood: report unknown, never a guess.
      firstProvider = null;
    }
    return {
      manifestFound: true,
      encryptionConfigPath: configPath,
      firstProvider,
      enabled: firstProvider === null ? null : firstProvider !== 'identity',
    };
  },
};
