// Delivers one report to the aggregator with node:https / node:http (no fetch library: memory). The token
// is re-read before every request (the kubelet rotates projected ServiceAccount tokens) and the CA bundle
// is re-read too, so a rotated ConfigMap is picked up without a restart; the TLS agent is rebuilt only
// when the bundle's content changed.
import { readFile } from 'node:fs/promises';
import type { Agent as HttpAgent } from 'node:http';
import https from 'node:https';
import { errorMessage } from '../report/error-message.js';
import type { Report } from '../report/schema.js';
import { UsageError } from '../report/usage-error.js';
import { http } from './node-http.js';

export const REPORTS_PATH = '/api/v1/reports';
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/** Never wait longer than this for a Retry-After, whatever the server says. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export type SendResult =
  /** 2xx. */
  | { kind: 'accepted'; status: number }
  /** 4xx other than 408/429: resending the same thing will not help (schema, auth, forbidden). */
  | { kind: 'rejected'; status: number; message: string }
  /** Network error, timeout, TLS failure, 5xx, 408, 429: try again later. */
  | { kind: 'unavailable'; reason: string; status?: number; retryAfterMs?: number }
  /** Something on this side: token or CA file unreadable. */
  | { kind: 'local-error'; message: string };

export type SendFn = (report: Report, signal?: AbortSignal) => Promise<SendResult>;

export interface SenderOptions {
  /** Base URL of the aggregator; the report goes to <base>/api/v1/reports. */
  url: URL;
  tokenFile?: string | undefined;
  caFile?: string | undefined;
  timeoutMs?: number;
  userAgent?: string;
  now?: () => number;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Validates --aggregator. Plain http is refused unless the host is loopback or the operator explicitly
 * allowed it: the report carries a bearer token.
 */
export function parseAggregatorUrl(text: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--aggregator: ${JSON.stringify(text)} is not a URL (e.g. https://aggregator:8443)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`--aggregator: ${url.protocol} is not supported; use https://`);
  }
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopbackHost(url.hostname)) {
    throw new UsageError(
      `--aggregator: refusing plain http to ${url.hostname} (the bearer token would travel in clear); ` +
        'use https:// or pass --allow-insecure-http',
    );
  }
  if (url.username || url.password)
    throw new UsageError('--aggregator: credentials in the URL are not allowed');
  return url;
}

export function reportsEndpoint(base: URL): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${REPORTS_PATH}`;
  url.search = '';
  url.hash = '';
  return url;
}

/** Retry-After: delta-seconds or an HTTP date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    ms = date - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The server's message from a JSON error body ({message} or {error}), else a short excerpt of the text. */
export function serverMessage(status: number, body: string): string {
  let message: string | null = null;
  try {
    const json: unknown = JSON.parse(body);
    if (json !== null && typeof json === 'object') {
      const o = json as Record<string, unknown>;
      if (typeof o.message === 'string') message = o.message;
      else if (typeof o.error === 'string') message = o.error;
    }
  } catch {
    const flat = body.replace(/\s+/g, ' ').trim();
    if (flat.length > 0) message = flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
  }
  return message === null ? `HTTP ${status}` : `HTTP ${status}: ${message}`;
}

function errorReason(e: unknown, caFile: string | undefined): string {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const message = errorMessage(e);
  const tls =
    code !== undefined &&
    (code.includes('CERT') ||
      code.includes('SELF_SIGNED') ||
      code.includes('UNABLE_TO_VERIFY') ||
      code.startsWith('ERR_TLS'));
  const base = code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
  return tls ? `${base} (TLS: check ${caFile ? `--ca-file ${caFile}` : '--ca-file'})` : base;
}

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot read token file ${file}: ${code}`);
  }
  const token = text.trim();
  if (token.length === 0) throw new Error(`token file ${file} is empty`);
  if (/[\r\n]/.test(token)) throw new Error(`token file ${file} holds more than one line`);
  return token;
}

export function createSender(options: SenderOptions): SendFn {
  const endpoint = reportsEndpoint(options.url);
  const isHttps = endpoint.protocol === 'https:';
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  // One TLS agent per CA bundle content: rebuilt when the bundle rotates, reused otherwise.
  let tlsAgent: { ca: string | undefined; agent: https.Agent } | null = null;
  // Not the global agent: it keeps sockets alive, and a pooled socket to a restarted aggregator fails.
  const plainAgent = new http.Agent({ keepAlive: false });

  const agentFor = async (): Promise<https.Agent> => {
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      try {
        ca = await readFile(options.caFile, 'utf8');
      } catch (e) {
        throw new Error(
          `cannot read CA file ${options.caFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    }
    if (tlsAgent === null || tlsAgent.ca !== ca) {
      tlsAgent?.agent.destroy();
      // keepAlive off: one request a minute does not need a pooled socket held open on every node.
      tlsAgent = { ca, agent: new https.Agent({ keepAlive: false, ...(ca !== undefined ? { ca } : {}) }) };
    }
    return tlsAgent.agent;
  };

  return async (report, signal) => {
    let token: string | undefined;
    let agent: HttpAgent = plainAgent;
    try {
      if (options.tokenFile !== undefined) token = await readToken(options.tokenFile);
      if (isHttps) agent = await agentFor();
    } catch (e) {
      return { kind: 'local-error', message: errorMessage(e) };
    }
    const body = Buffer.from(JSON.stringify(report));
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': body.length,
      accept: 'application/json',
      'user-agent': options.userAgent ?? `osmo-node-validator-agent/${report.agentVersion}`,
    };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;

    const request: PostRequest = { endpoint, headers, agent, body, timeoutMs, now };
    return post(request, signal, options.caFile);
  };
}

interface PostRequest {
  endpoint: URL;
  headers: Record<string, string | number>;
  agent: HttpAgent;
  body: Buffer;
  timeoutMs: number;
  now: () => number;
}

/** One POST, bounded by its timeout and the signal; never rejects. */
function post(
  r: PostRequest,
  signal: AbortSignal | undefined,
  caFile: string | undefined,
): Promise<SendResult> {
  const failed = (e: unknown): SendResult => ({ kind: 'unavailable', reason: errorReason(e, caFile) });
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const requestOptions: https.RequestOptions = { method: 'POST', headers: r.headers, agent: r.agent };
    const transport = r.endpoint.protocol === 'https:' ? https : http;
    const req = transport.request(r.endpoint, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(d);
        size += d.length;
      });
      res.on('error', (e) => finish(failed(e)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES);
        const header = res.headers['retry-after'];
        const retryAfter = Array.isArray(header) ? header[0] : header;
        finish(classifyResponse(res.statusCode ?? 0, text, retryAfter, r.now()));
      });
    });
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no answer within ${r.timeoutMs / 1000}s`), { code: 'ETIMEDOUT' }));
    }, r.timeoutMs);
    const onAbort = () => req.destroy(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => finish(failed(e)));
    req.end(r.body);
  });
}

/** 2xx accepted; 4xx (but 408/429) rejected with the server's message; anything else unavailable. */
function classifyResponse(
  status: number,
  text: string,
  retryAfter: string | undefined,
  nowMs: number,
): SendResult {
  if (status >= 200 && status < 300) return { kind: 'accepted', status };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return { kind: 'rejected', status, message: serverMessage(status, text) };
  }
  const retryAfterMs = parseRetryAfter(retryAfter, nowMs);
  return {
    kind: 'unavailable',
    reason: serverMessage(status, text),
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}
