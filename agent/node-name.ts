// The node name a report or result carries, resolved the same way by `check` and `agent`: --node-name,
// then NODE_NAME (the downward API in the pod), then the host's hostname fact (read under the host root),
// then — only when the host root is `/`, i.e. this machine is the host — os.hostname(). Lowercased, as
// Kubernetes names nodes. The first value present decides: an invalid one is an error naming its source,
// never skipped and never replaced by a placeholder, so a report can only ever land on the right node.
import os from 'node:os';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from '../report/grammars.js';

export class NodeNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeNameError';
  }
}

export interface NodeNameSources {
  /** --node-name as given (undefined: not given). */
  flag?: string | undefined;
  /** The NODE_NAME environment variable (empty counts as unset: a pod without the downward API). */
  env?: string | undefined;
  /** The hostname probe's fact; null when the host has none or the probe failed. */
  hostnameFact?: string | null | undefined;
  /** Why the hostname fact is missing (the probe's error), quoted in the message when nothing else is left. */
  hostnameError?: string | undefined;
  /** The --host-root in force (absolute). os.hostname() is consulted only when it is `/`. */
  hostRoot: string;
  /** Seam for tests; default os.hostname. */
  osHostname?: () => string;
}

function checked(value: string, source: string, hint: string): string {
  const name = value.trim().toLowerCase();
  if (!isDnsSubdomain(name)) {
    throw new NodeNameError(
      `${source}: ${JSON.stringify(value)} is not a valid node name (${DNS_SUBDOMAIN_RULE})${hint}`,
    );
  }
  return name;
}

/**
 * The explicitly configured name (--node-name, then NODE_NAME), validated; null when neither is set.
 * Commands call this while parsing arguments so a bad value fails before any probing.
 */
export function explicitNodeName(sources: Pick<NodeNameSources, 'flag' | 'env'>): string | null {
  if (sources.flag !== undefined) {
    if (sources.flag.trim() === '') throw new NodeNameError('--node-name: empty value');
    return checked(sources.flag, '--node-name', '');
  }
  if (sources.env !== undefined && sources.env.trim() !== '') return checked(sources.env, 'NODE_NAME', '');
  return null;
}

export function resolveNodeName(sources: NodeNameSources): string {
  const explicit = explicitNodeName(sources);
  if (explicit !== null) return explicit;
  const hint = '; pass --node-name or set NODE_NAME';
  const fact = sources.hostnameFact;
  if (fact !== undefined && fact !== null && fact.trim() !== '') {
    return checked(fact, `the host's hostname (read under ${sources.hostRoot})`, hint);
  }
  if (sources.hostRoot === '/') {
    const own = (sources.osHostname ?? os.hostname)();
    if (own.trim() !== '') return checked(own, "this machine's hostname (os.hostname())", hint);
  }
  const why = sources.hostnameError === undefined ? '' : ` (${sources.hostnameError})`;
  throw new NodeNameError(
    `cannot tell the node name: no hostname found under ${sources.hostRoot} ` +
      `(proc/sys/kernel/hostname, etc/hostname)${why}${hint}`,
  );
}
