// HTTPS as the node itself would make it, shared by the registries probe (/v2/, the token realm, the image
// manifest) and the osmo probe: the name is resolved with the host's resolver (host-resolve.ts), the
// request goes to those addresses with the name as TLS server name and Host header, trusting what the host
// trusts (Node's roots + the host's CA bundle + what the caller adds), bounded by a deadline and, where a
// body is read, by a size. Failures are answers (`{ error }`), never exceptions: for the probes they are
// facts about the node.
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { getCACertificates } from 'node:tls';
import { LIMITS } from '../../report/limits.js';
import type { HostContext } from '../host.js';
import { type ResolvedAddress, resolveAsHost } from './host-resolve.js';
import { readOptional } from './support.js';

/** The host's CA bundle: the first that exists (Debian/Ubuntu, RHEL/Fedora, SUSE). */
export const HOST_CA_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
];

const MAX_ERROR = LIMITS.registry.error;

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

/** A network error as a short, stable word (the errno code) or its message, cut to fit the report. */
export function describeNetworkError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  return (err.message || String(e)).slice(0, MAX_ERROR);
}

/** The host's CA bundle (first of HOST_CA_BUNDLES that exists), read under the host root; null when none. */
export async function hostCaBundle(host: HostContext): Promise<string | null> {
  for (const file of HOST_CA_BUNDLES) {
    const text = await readOptional(host, file);
    if (text !== null) return text;
  }
  return null;
}

/** Node's roots (and NODE_EXTRA_CA_CERTS) plus the host's own bundle: private CAs only the host trusts. */
export async function hostTrust(host: HostContext): Promise<string[]> {
  const ca = [...getCACertificates('default')];
  const bundle = await hostCaBundle(host);
  if (bundle !== null) ca.push(bundle);
  return ca;
}

/** The addresses the host would contact for `name`, or why there are none (a fact's `error`). */
export async function hostAddresses(
  host: HostContext,
  name: string,
  timeoutMs: number,
  signal: AbortSignal,
  /** The configured bound, for the message (stable between runs). */
  configuredMs = timeoutMs,
): Promise<{ addresses: ResolvedAddress[] } | { error: string }> {
  const r = await resolveAsHost(host, name, timeoutMs, signal);
  switch (r.kind) {
    case 'resolved':
      return { addresses: r.addresses };
    case 'not-found':
      return { error: 'ENOTFOUND' }; // dns.lookup's word for it
    case 'timeout':
      return { error: `timeout after ${configuredMs}ms` };
    case 'unknown':
      return { error: r.reason.slice(0, MAX_ERROR) };
  }
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

/** Where a request goes: the name (or IP) contacted, its port, and the Host header (`name[:port]`). */
export interface HttpsEndpoint {
  hostname: string;
  port: number;
  hostHeader: string;
}

export interface HttpsAsk {
  method: 'GET' | 'HEAD';
  path: string;
  headers?: Readonly<Record<string, string>>;
  /** Read at most this many bytes of the body (0: the body is discarded); more is an error. */
  maxBodyBytes?: number;
}

export interface HttpsAnswer {
  status: number;
  /** Every value of each response header, by lowercase name. */
  headers: NodeJS.Dict<string[]>;
  /** The body when `maxBodyBytes` > 0, else empty. */
  body: Buffer;
}

/** The bound on one exchange: the time left, the configured bound (for messages) and the probe's signal. */
export interface Deadline {
  remainingMs(): number;
  configuredMs: number;
  signal: AbortSignal;
}

/** A deadline `ms` from now, aborted with `signal` too. */
export function deadlineIn(ms: number, signal: AbortSignal): Deadline {
  const started = performance.now();
  return {
    remainingMs: () => Math.max(1, ms - Math.round(performance.now() - started)),
    configuredMs: ms,
    signal,
  };
}

/** One HTTPS request to the host's addresses for the endpoint (null: the endpoint is an IP address). */
export function httpsExchange(
  endpoint: HttpsEndpoint,
  addresses: ResolvedAddress[] | null,
  ask: HttpsAsk,
  ca: string[],
  deadline: Deadline,
): Promise<HttpsAnswer> {
  const named = isIP(endpoint.hostname) === 0;
  const maxBody = ask.maxBodyBytes ?? 0;
  return new Promise<HttpsAnswer>((resolve, reject) => {
    const req = request({
      // The addresses the host resolved, tried in its order; the name goes into SNI, certificate
      // verification and Host.
      host: endpoint.hostname,
      ...(addresses === null ? {} : { lookup: lookupFrom(addresses), autoSelectFamily: true }),
      port: endpoint.port,
      path: ask.path,
      method: ask.method,
      agent: false,
      ...(named ? { servername: endpoint.hostname } : {}),
      ca,
      headers: { ...ask.headers, host: endpoint.hostHeader, 'user-agent': 'osmo-node-validator' },
    });
    const done = (fn: () => void) => {
      clearTimeout(timer);
      deadline.signal.removeEventListener('abort', onAbort);
      req.destroy();
      fn();
    };
    const fail = (e: Error) => done(() => reject(e));
    const onAbort = () => fail(new Error(`timeout after ${deadline.configuredMs}ms`));
    const timer = setTimeout(onAbort, deadline.remainingMs());
    deadline.signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      const answer = (body: Buffer) => ({ status: res.statusCode ?? 0, headers: res.headersDistinct, body });
      if (maxBody === 0 || ask.method === 'HEAD') {
        res.resume();
        done(() => resolve(answer(Buffer.alloc(0))));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) fail(new Error(`response body over ${maxBody} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => done(() => resolve(answer(Buffer.concat(chunks)))));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

export type HostExchange =
  | { answer: HttpsAnswer; latencyMs: number }
  | { dnsResolved: boolean; error: string };

/** Resolves the endpoint's name as the host does, then one exchange, all within the deadline. */
export async function exchangeAsHost(
  host: HostContext,
  endpoint: HttpsEndpoint,
  ask: HttpsAsk,
  ca: string[],
  deadline: Deadline,
): Promise<HostExchange> {
  let addresses: ResolvedAddress[] | null = null;
  if (isIP(endpoint.hostname) === 0) {
    const resolved = await hostAddresses(
      host,
      endpoint.hostname,
      deadline.remainingMs(),
      deadline.signal,
      deadline.configuredMs,
    );
    if ('error' in resolved) return { dnsResolved: false, error: resolved.error };
    addresses = resolved.addresses;
  }
  const started = performance.now();
  try {
    const answer = await httpsExchange(endpoint, addresses, ask, ca, deadline);
    return { answer, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (e) {
    return { dnsResolved: true, error: describeNetworkError(e) };
  }
}
