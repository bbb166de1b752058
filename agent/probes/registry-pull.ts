// Can the node pull, not only reach /v2/? Where /v2/ answers 401 with a Bearer challenge
// (`WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`), the
// distribution token flow is followed anonymously for a public repository: GET the realm with
// `service` and `scope=repository:<repo>:pull`, then HEAD `/v2/<repo>/manifests/<tag>` with the token.
// Where /v2/ answers 200 the manifest is asked for without a token. The realm is often another host
// (auth.docker.io): it is resolved as the host resolves it and trusted as the registry is. The whole pull
// is bounded by one deadline and the token body by TOKEN_BODY_MAX_BYTES. The token is never recorded.
import { LIMITS } from '../../report/limits.js';
import type { RegistryPull } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { type Deadline, exchangeAsHost, type HttpsAnswer, type HttpsEndpoint } from './host-https.js';

/** A public image per well-known registry, pulled when --registries names none for it. */
export const DEFAULT_PULL_IMAGES: ReadonlyMap<string, { repository: string; tag: string }> = new Map([
  // CUDA 13.0 shipped with the R580 long-term-support driver branch (end of life June 2028); NVIDIA deletes
  // a CUDA image tag six months after its driver branch's end of life (gitlab.com/nvidia/container-images/cuda,
  // doc/support-policy.md), and keeps only each release's latest point release.
  ['nvcr.io', { repository: 'nvidia/cuda', tag: '13.0.2-base-ubuntu24.04' }],
  ['docker.io', { repository: 'library/busybox', tag: 'latest' }],
  // containerd's own integration tests pull this image (integration/images/image_list.go).
  ['ghcr.io', { repository: 'containerd/busybox', tag: '1.36' }],
]);

export const TOKEN_BODY_MAX_BYTES = 64 * 1024;

/** What a manifest HEAD accepts: OCI index and manifest, Docker manifest list and v2 manifest. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const MAX_ERROR = LIMITS.registry.error;

export interface BearerChallenge {
  realm: URL;
  /** Absent in nvcr.io's challenge (`Bearer realm="https://nvcr.io/proxy_auth"`). */
  service: string | null;
}

/** `key="quoted, value"` and `key=token` pairs of an auth-param list; null when it does not parse. */
function authParams(text: string): Map<string, string> | null {
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || m[0].length === 0) return null;
    const value = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/g, '$1');
    params.set(m[1]!.toLowerCase(), value);
    at = re.lastIndex;
  }
  return params;
}

/**
 * The Bearer challenge among a response's WWW-Authenticate values (RFC 7235 auth-params; the realm must be
 * an https URL), `{ basic: true }` for a Basic-only registry, or why it cannot be used.
 */
export function parseBearerChallenge(
  values: readonly string[] | undefined,
): BearerChallenge | { basic: true } | { error: string } {
  if (!values || values.length === 0) return { error: '401 from /v2/ without a WWW-Authenticate header' };
  let basic = false;
  for (const value of values) {
    const m = /^\s*([A-Za-z]+)(?:\s+(.*))?$/s.exec(value);
    if (!m) continue;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'basic') basic = true;
    if (scheme !== 'bearer') continue;
    const params = authParams(m[2] ?? '');
    const realm = params?.get('realm');
    if (!params || !realm) return { error: `malformed WWW-Authenticate: ${shown(value)}` };
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      return { error: `malformed WWW-Authenticate (realm is not a URL): ${shown(value)}` };
    }
    if (url.protocol !== 'https:') return { error: `token realm ${shown(realm)} is not an https URL` };
    return { realm: url, service: params.get('service') ?? null };
  }
  if (basic) return { basic: true };
  return { error: `no Bearer challenge in WWW-Authenticate: ${shown(values.join(', '))}` };
}

function shown(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** The endpoint of an https URL (IPv6 brackets dropped for the connection, kept in Host). */
export function urlEndpoint(url: URL): HttpsEndpoint {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { hostname, port: url.port === '' ? 443 : Number(url.port), hostHeader: url.host };
}

/** The anonymous token's text from a token response body (`token`, else `access_token`). */
export function tokenFromBody(body: Buffer): string | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { error: 'the token response is not JSON' };
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const token = typeof o['token'] === 'string' && o['token'] !== '' ? o['token'] : o['access_token'];
  if (typeof token !== 'string' || token === '') return { error: 'the token response holds no token' };
  return token;
}

export interface PullContext {
  host: HostContext;
  registry: HttpsEndpoint;
  repository: string;
  tag: string;
  ca: string[];
  deadline: Deadline;
}

type Step = { token: string | null } | { result: RegistryPull };

function result(
  ctx: PullContext,
  status: RegistryPull['status'],
  httpStatus: number | null,
  error: string | null,
): RegistryPull {
  const image = `${ctx.repository}:${ctx.tag}`;
  return { image, status, httpStatus, error: error === null ? null : error.slice(0, MAX_ERROR) };
}

/** The anonymous pull token from the challenge's realm, or the pull's result when there is none. */
async function fetchToken(ctx: PullContext, challenge: BearerChallenge): Promise<Step> {
  const url = new URL(challenge.realm);
  if (challenge.service !== null) url.searchParams.set('service', challenge.service);
  url.searchParams.set('scope', `repository:${ctx.repository}:pull`);
  const endpoint = urlEndpoint(url);
  const r = await exchangeAsHost(
    ctx.host,
    endpoint,
    { method: 'GET', path: `${url.pathname}${url.search}`, maxBodyBytes: TOKEN_BODY_MAX_BYTES },
    ctx.ca,
    ctx.deadline,
  );
  const where = `token endpoint ${endpoint.hostHeader}`;
  if ('error' in r) {
    if (r.error.startsWith('response body over')) {
      return { result: result(ctx, 'not-tested', null, `${where}: ${r.error}`) };
    }
    return { result: result(ctx, 'blocked', null, `${where}: ${r.error}`) };
  }
  const status = r.answer.status;
  if (status === 401 || status === 403) {
    return { result: result(ctx, 'denied', status, `${where} answered ${status} to an anonymous request`) };
  }
  if (status !== 200) return { result: result(ctx, 'not-tested', status, `${where} answered ${status}`) };
  const token = tokenFromBody(r.answer.body);
  if (typeof token !== 'string')
    return { result: result(ctx, 'not-tested', 200, `${where}: ${token.error}`) };
  return { token };
}

/** The pull's result from the manifest HEAD's answer. */
function manifestResult(ctx: PullContext, answer: HttpsAnswer): RegistryPull {
  const s = answer.status;
  const what = `manifest ${ctx.repository}:${ctx.tag}`;
  if (s >= 200 && s < 300) return result(ctx, 'ok', s, null);
  if (s === 401 || s === 403) return result(ctx, 'denied', s, `${what}: HTTP ${s}`);
  if (s === 404) return result(ctx, 'not-found', s, `${what}: HTTP 404 (no such repository or tag)`);
  return result(ctx, 'not-tested', s, `${what}: HTTP ${s}`);
}

/**
 * Pulls the image's manifest as containerd would start a pull: after /v2/ answered `v2Status` with
 * `v2Headers`. Every outcome is a RegistryPull, never an exception.
 */
export async function probePull(
  ctx: PullContext,
  v2Status: number,
  v2Headers: NodeJS.Dict<string[]>,
): Promise<RegistryPull> {
  let token: string | null = null;
  if (v2Status === 401) {
    const challenge = parseBearerChallenge(v2Headers['www-authenticate']);
    if ('basic' in challenge) {
      return result(ctx, 'not-tested', null, 'the registry asks for Basic credentials; no anonymous pull');
    }
    if ('error' in challenge) return result(ctx, 'not-tested', null, challenge.error);
    const step = await fetchToken(ctx, challenge);
    if ('result' in step) return step.result;
    token = step.token;
  }
  const r = await exchangeAsHost(
    ctx.host,
    ctx.registry,
    {
      method: 'HEAD',
      path: `/v2/${ctx.repository}/manifests/${ctx.tag}`,
      headers: { accept: MANIFEST_ACCEPT, ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    },
    ctx.ca,
    ctx.deadline,
  );
  if ('error' in r) return result(ctx, 'blocked', null, `manifest ${ctx.repository}:${ctx.tag}: ${r.error}`);
  return manifestResult(ctx, r.answer);
}
