// What a kube-apiserver EncryptionConfiguration (`--encryption-provider-config`) does with every resource,
// read the way the API server reads it (k8s.io/apiserver, encryptionconfig):
// - every `resources[]` entry counts, in order. A name (`secrets`, `configmaps`, `*.apps`, `*.` = every
//   core-group resource, `*.*` = everything) is written with the first provider of the first entry that
//   lists it; later providers and entries only read.
// - a resource is looked up exactly, then by its group's wildcard (`*.` for core resources), then `*.*`;
//   no match → stored as plain text (identity).
// - a name listed after a wildcard that covers it (`*.` then `secrets`) makes the API server refuse the
//   file, so its meaning is unknown here too.
// Secrets are what the Kubernetes docs ask to encrypt: encryption at rest holds only when secrets are
// written by a provider other than `identity`. A file that cannot be read or understood is unknown, never
// a pass.
import { errorMessage } from '../../report/error-message.js';
import type { HostContext } from '../host.js';

export const ENCRYPTION_PROVIDERS = ['aescbc', 'aesgcm', 'secretbox', 'kms', 'identity'] as const;
export type EncryptionProvider = (typeof ENCRYPTION_PROVIDERS)[number];

export interface EncryptionRule {
  /** The resource names of one `resources[]` entry, as written. */
  resources: string[];
  /** Its first provider: what it writes with. */
  provider: EncryptionProvider;
}

export interface EncryptionAtRest {
  /** Every `resources[]` entry, in order. */
  rules: EncryptionRule[];
  /** How secrets are written and which name in which entry decides it; null: no entry covers them. */
  secrets: { provider: EncryptionProvider; matchedBy: string; rule: number } | null;
  /** Secrets are written by a provider other than identity. */
  secretsEncrypted: boolean;
  /** Each resource name (as configured) whose writes are encrypted, with the provider, in file order. */
  encrypted: Array<{ resource: string; provider: EncryptionProvider }>;
}

export type EncryptionAtRestResult =
  | { known: true; value: EncryptionAtRest }
  | { known: false; reason: string };

/** A configured name as the API server keys it (schema.ParseGroupResource): `secrets` and `secrets.` are one. */
function groupResource(name: string): { group: string; resource: string } {
  const dot = name.indexOf('.');
  return dot < 0
    ? { group: '', resource: name }
    : { group: name.slice(dot + 1), resource: name.slice(0, dot) };
}

const keyOf = (gr: { group: string; resource: string }) => `${gr.resource}.${gr.group}`;
/** How the API server names a key in its messages: `*.` for the core wildcard, else resource[.group]. */
const display = (gr: { group: string; resource: string }) =>
  gr.group === '' && gr.resource === '*'
    ? '*.'
    : gr.group === ''
      ? gr.resource
      : `${gr.resource}.${gr.group}`;

class NotUnderstood extends Error {}

function firstProvider(entry: Record<string, unknown>, index: number): EncryptionProvider {
  const providers = entry['providers'];
  if (!Array.isArray(providers) || providers.length === 0) {
    throw new NotUnderstood(`resources[${index}] has no providers`);
  }
  const first = providers[0] as unknown;
  const keys = typeof first === 'object' && first !== null ? Object.keys(first) : [];
  const known = keys.filter((k): k is EncryptionProvider =>
    (ENCRYPTION_PROVIDERS as readonly string[]).includes(k),
  );
  // The API server refuses an element with no provider or with several: it would not start with this file.
  if (known.length !== 1) {
    throw new NotUnderstood(
      `resources[${index}].providers[0] must name exactly one of ${ENCRYPTION_PROVIDERS.join(', ')} (has ${JSON.stringify(keys)})`,
    );
  }
  return known[0]!;
}

function readRules(doc: unknown): EncryptionRule[] {
  const record = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : null;
  if (record?.['kind'] !== 'EncryptionConfiguration') {
    throw new NotUnderstood(
      `not an EncryptionConfiguration (kind ${JSON.stringify(record?.['kind'] ?? null)})`,
    );
  }
  const entries = record['resources'];
  if (!Array.isArray(entries) || entries.length === 0) throw new NotUnderstood('no resources[] entries');
  return entries.map((raw: unknown, i) => {
    const entry = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const resources = entry['resources'];
    if (
      !Array.isArray(resources) ||
      resources.length === 0 ||
      !resources.every((r) => typeof r === 'string')
    ) {
      throw new NotUnderstood(`resources[${i}].resources is not a list of resource names`);
    }
    return { resources: resources as string[], provider: firstProvider(entry, i) };
  });
}

interface Writer {
  name: string;
  provider: EncryptionProvider;
  rule: number;
}

/**
 * The writing provider of every configured name (the first entry listing it decides), keyed as the API
 * server keys them. A name covered by an earlier wildcard is refused, as the API server refuses it.
 */
function writersByName(rules: EncryptionRule[]): Map<string, Writer> {
  const writers = new Map<string, Writer>();
  rules.forEach((rule, index) => {
    for (const name of rule.resources) {
      const gr = groupResource(name);
      for (const wildcard of [
        { group: gr.group, resource: '*' },
        { group: '*', resource: '*' },
      ]) {
        if (writers.has(keyOf(wildcard))) {
          throw new NotUnderstood(
            `resource "${display(gr)}" is masked by earlier rule "${display(wildcard)}" (kube-apiserver refuses this file)`,
          );
        }
      }
      if (!writers.has(keyOf(gr))) writers.set(keyOf(gr), { name, provider: rule.provider, rule: index });
    }
  });
  return writers;
}

/** Evaluates a parsed EncryptionConfiguration (the YAML document as plain data). */
export function evaluateEncryptionConfiguration(doc: unknown): EncryptionAtRestResult {
  let rules: EncryptionRule[];
  let writers: Map<string, Writer>;
  try {
    rules = readRules(doc);
    writers = writersByName(rules);
  } catch (e) {
    if (e instanceof NotUnderstood) return { known: false, reason: e.message };
    throw e;
  }
  // secrets (core group): exactly, then the core group's wildcard, then everything.
  const forSecrets = writers.get('secrets.') ?? writers.get('*.') ?? writers.get('*.*') ?? null;
  const secrets = forSecrets && {
    provider: forSecrets.provider,
    matchedBy: forSecrets.name,
    rule: forSecrets.rule,
  };
  return {
    known: true,
    value: {
      rules,
      secrets,
      secretsEncrypted: secrets !== null && secrets.provider !== 'identity',
      encrypted: [...writers.values()]
        .filter((w) => w.provider !== 'identity')
        .map((w) => ({ resource: w.name, provider: w.provider })),
    },
  };
}

/** The most of an EncryptionConfiguration read (parsed as YAML): a real one is ~1 KB. */
export const ENCRYPTION_CONFIG_MAX_BYTES = 256 * 1024;

/** Parses and evaluates the file's text; YAML that does not parse is unknown, with the parser's first line. */
export async function parseEncryptionAtRest(text: string): Promise<EncryptionAtRestResult> {
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { known: false, reason: `not YAML: ${errorMessage(e, { firstLine: true })}` };
  }
  return evaluateEncryptionConfiguration(doc);
}

/** Reads the config the kube-apiserver flag names, under the host root; unreadable → unknown, saying why. */
export async function readEncryptionAtRest(
  host: HostContext,
  configPath: string,
): Promise<EncryptionAtRestResult> {
  let text: string;
  try {
    text = await host.readFile(configPath, ENCRYPTION_CONFIG_MAX_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { known: false, reason: `cannot read ${configPath}: ${code ?? errorMessage(e)}` };
  }
  const result = await parseEncryptionAtRest(text);
  return result.known ? result : { known: false, reason: `${configPath}: ${result.reason}` };
}
