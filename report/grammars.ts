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

// A repository path and tag as the distribution spec writes them (lowercase path components joined by `/`;
// a tag of at most 128 word characters, dots and dashes, not starting with either).
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** A registry entry of --registries: `host[:port]`, optionally `/repository[:tag]` (the image to pull). */
export interface RegistryReference extends RegistryHost {
  /** The `host[:port]` part as written. */
  hostText: string;
  /** null: no image given (the registry's default image, if any, is tried). */
  repository: string | null;
  /** `latest` when a repository is given without a tag. */
  tag: string | null;
}

/**
 * `host[:port]` or `host[:port]/repository[:tag]` (e.g. `nvcr.io/nvidia/cuda:13.0.2-base-ubuntu24.04`,
 * `mirror.local:5000/library/busybox`); null for anything else.
 */
export function parseRegistryReference(text: string): RegistryReference | null {
  const slash = text.indexOf('/');
  const hostText = slash < 0 ? text : text.slice(0, slash);
  const host = parseRegistryHost(hostText);
  if (!host) return null;
  if (slash < 0) return { ...host, hostText, repository: null, tag: null };
  const image = text.slice(slash + 1);
  if (image.length > LIMITS.registry.image) return null;
  const colon = image.lastIndexOf(':');
  const repository = colon < 0 ? image : image.slice(0, colon);
  const tag = colon < 0 ? 'latest' : image.slice(colon + 1);
  if (!REPOSITORY.test(repository) || !TAG.test(tag)) return null;
  return { ...host, hostText, repository, tag };
}
