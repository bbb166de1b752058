// The two name grammars every part reads the same way, as plain regular expressions (no package imports:
// the agent must not load typebox, see constants.ts): a DNS-1123 subdomain (what Kubernetes accepts as a node
// or object name) and a registry `host[:port]`. report/schema.ts puts the pattern sources in the report
// schema, the agent checks --node-name and --registries with the functions, and the aggregator reads
// object names with them.
import { LIMITS } from './limits.js';

/** Kubernetes' limit on a DNS-1123 subdomain (and so on a node name). */
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

// One DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit.
const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';

/**
 * A DNS-1123 subdomain: labels joined by single dots (`a..b`, `a.-b`, `-a`, `a.` are refused), as
 * Kubernetes' IsDNS1123Subdomain. Linear to match: labels are split by dots no label contains.
 */
export const DNS_SUBDOMAIN_PATTERN = `^${DNS_LABEL}(?:\\.${DNS_LABEL})*$`;
const DNS_SUBDOMAIN = new RegExp(DNS_SUBDOMAIN_PATTERN);

/** The grammar in words, for messages. */
export const DNS_SUBDOMAIN_RULE =
  "lowercase letters, digits and '-' in labels joined by single dots, every label starting and ending " +
  `with a letter or digit, at most ${DNS_SUBDOMAIN_MAX_LENGTH} characters`;

/** Whether `name` is a DNS-1123 subdomain: the one test of a node name (and of an object name). */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= DNS_SUBDOMAIN_MAX_LENGTH && DNS_SUBDOMAIN.test(name);
}

// A host name (any case, as registries are written: nvcr.io, Mirror.Local; an IPv4 address fits too) or a
// bracketed IPv6 address, then an optional port of at most five digits (its range is checked in code).
const HOST_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)*';
const IPV6 = '\\[[0-9A-Fa-f:.]+\\]';

/** The syntax of a registry `host[:port]`, as a pattern source (the schema's; the port's range is not in it). */
export const REGISTRY_HOST_PATTERN = `^(?:${HOST_NAME}|${IPV6})(?::[0-9]{1,5})?$`;
const REGISTRY_HOST = new RegExp(`^(?:(${HOST_NAME})|\\[([0-9A-Fa-f:.]+)\\])(?::([0-9]{1,5}))?$`);

export interface RegistryHost {
  /** The host name, or the IPv6 address without its brackets. */
  name: string;
  ipv6: boolean;
  /** 1–65535; null when none was given. */
  port: number | null;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`; null for anything else (also a port outside 1–65535). */
export function parseRegistryHost(text: string): RegistryHost | null {
  // The report's RegistryResult.host bounds it.
  if (text.length > LIMITS.registry.host) return null;
  const m = REGISTRY_HOST.exec(text);
  if (!m) return null;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return m[1] === undefined ? { name: m[2] as string, ipv6: true, port } : { name: m[1], ipv6: false, port };
}
