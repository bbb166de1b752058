// Access to the OSMO service (requirements: "Internet access: Required for image pulls and access to the
// osmo service"): the configured --osmo-url as the node reaches it, with the registries' resolver and trust
// (host-https.ts). Reachability, not authentication: any HTTP status over TLS is reachable; DNS, TCP, TLS
// and timeouts are not, and the fact says which. No URL configured: null (the check is skip).
import { LIMITS } from '../../report/limits.js';
import type { OsmoFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import { deadlineIn, exchangeAsHost, hostTrust } from './host-https.js';
import type { Probe } from './probe.js';
import { urlEndpoint } from './registry-pull.js';

/**
 * An --osmo-url: an absolute https URL without credentials, at most LIMITS.osmo.url characters; the reason
 * it is not, otherwise (the flag's message).
 */
export function osmoUrlProblem(text: string): string | null {
  if (text.length > LIMITS.osmo.url) return `longer than ${LIMITS.osmo.url} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not an absolute URL (e.g. https://osmo.example.com)';
  }
  if (url.protocol !== 'https:') return 'not an https:// URL: the OSMO service is reached over TLS';
  if (url.username !== '' || url.password !== '') return 'a URL with credentials: they would be reported';
  return null;
}

export const osmoProbe: Probe<'osmo', OsmoFacts | null> = {
  name: 'osmo',
  timeoutMs: 15_000,
  async run(host, options, signal) {
    const configured = options.osmoUrl ?? null;
    if (configured === null) return null;
    const problem = osmoUrlProblem(configured);
    if (problem !== null)
      throw new ProbeFailure('parse', `--osmo-url ${JSON.stringify(configured)} is ${problem}`);
    const url = new URL(configured);
    const endpoint = urlEndpoint(url);
    const base = { url: configured, endpoint: endpoint.hostHeader };
    const r = await exchangeAsHost(
      host,
      endpoint,
      { method: 'GET', path: `${url.pathname}${url.search}` },
      await hostTrust(host),
      deadlineIn(options.registryTimeoutMs, signal),
    );
    if ('error' in r) {
      return {
        ...base,
        reachable: false,
        dnsResolved: r.dnsResolved,
        httpStatus: null,
        latencyMs: null,
        error: r.error,
      };
    }
    const status = r.answer.status;
    return {
      ...base,
      reachable: true,
      dnsResolved: true,
      httpStatus: status >= 100 && status <= 599 ? status : null,
      latencyMs: r.latencyMs,
      error: null,
    };
  },
};
