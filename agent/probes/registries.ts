// Registry reachability: DNS (skipped for IP literals), then HTTPS GET /v2/ bounded by a timeout. A registry
// answering 200 or 401 is reachable. Unreachable registries are facts, not probe failures.
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { RegistryResult } from '../../report/schema.js';
import type { Probe } from './probe.js';
import { ProbeFailure } from './probe.js';
import { excerpt, MAX_STR } from './support.js';

export const DEFAULT_REGISTRIES = ['nvcr.io', 'ghcr.io', 'docker.io'];

/** docker.io's API lives at registry-1.docker.io. */
const ENDPOINT_ALIASES: Record<string, string> = { 'docker.io': 'registry-1.docker.io' };

export interface RegistryTarget {
  host: string;
  /** Host name or IP actually contacted (no brackets). */
  hostname: string;
  port: number;
  /** hostname[:port] as recorded in facts. */
  endpoint: string;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` (at most 256 characters, RegistryResult.host); rejects anything else. */
export function parseRegistryTarget(spec: string): RegistryTarget {
  const s = spec.trim();
  const m = s.length > MAX_STR ? null : /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(s);
  if (!m) throw new ProbeFailure('parse', `registry ${excerpt(spec)} is not host[:port]`);
  const name = (m[1] ?? m[2])!;
  const port = m[3] === undefined ? 443 : Number(m[3]);
  if (port < 1 || port > 65535) throw new ProbeFailure('parse', `registry ${excerpt(spec)} has a bad port`);
  const hostname = ENDPOINT_ALIASES[name.toLowerCase()] ?? name;
  const shownHost = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
  return { host: s, hostname, port, endpoint: m[3] === undefined ? shownHost : `${shownHost}:${port}` };
}

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

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  return (err.message || String(e)).slice(0, 1024);
}

function withTimeout<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => finish(() => reject(new Error(`timeout after ${ms}ms`)));
    const timer = setTimeout(onAbort, ms);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}

function httpsStatus(
  target: RegistryTarget,
  ca: string[] | undefined,
  timeoutMs: number,
  signal: AbortSignal,
) {
  return new Promise<number>((resolve, reject) => {
    const req = request({
      host: target.hostname,
      port: target.port,
      path: '/v2/',
      method: 'GET',
      agent: false,
      ...(isIP(target.hostname) ? {} : { servername: target.hostname }),
      ...(ca ? { ca } : {}),
      headers: { 'user-agent': 'osmo-node-validator' },
    });
    const fail = (e: Error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(e);
    };
    const onAbort = () => fail(new Error(`timeout after ${timeoutMs}ms`));
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => fail(e));
    req.end();
  });
}

export async function probeRegistry(
  spec: string,
  options: { timeoutMs: number; ca?: string[] | undefined },
  signal: AbortSignal,
): Promise<RegistryResult> {
  let target: RegistryTarget;
  try {
    target = parseRegistryTarget(spec);
  } catch (e) {
    // Not a registry name (options.ts already refuses these): echoed visibly cut, never as a valid name.
    const shown = spec.length <= MAX_STR ? spec : `${spec.slice(0, MAX_STR - 1)}…`;
    return {
      host: shown,
      endpoint: shown,
      reachable: false,
      dnsResolved: false,
      httpStatus: null,
      latencyMs: null,
      error: (e as Error).message,
    };
  }
  const base = { host: target.host, endpoint: target.endpoint };
  const started = performance.now();
  if (!isIP(target.hostname)) {
    try {
      await withTimeout(lookup(target.hostname), options.timeoutMs, signal);
    } catch (e) {
      return {
        ...base,
        reachable: false,
        dnsResolved: false,
        httpStatus: null,
        latencyMs: null,
        error: describe(e),
      };
    }
  }
  const remaining = Math.max(1, options.timeoutMs - Math.round(performance.now() - started));
  const requestStart = performance.now();
  try {
    const status = await httpsStatus(target, options.ca, remaining, signal);
    const latencyMs = Math.round((performance.now() - requestStart) * 10) / 10;
    const reachable = status === 200 || status === 401;
    return {
      ...base,
      reachable,
      dnsResolved: true,
      httpStatus: status >= 100 && status <= 599 ? status : null,
      latencyMs,
      error: reachable ? null : `unexpected HTTP status ${status} from /v2/`,
    };
  } catch (e) {
    return {
      ...base,
      reachable: false,
      dnsResolved: true,
      httpStatus: null,
      latencyMs: null,
      error: describe(e),
    };
  }
}

export const registriesProbe: Probe<'registries', RegistryResult[] | null> = {
  name: 'registries',
  timeoutMs: 15_000,
  async run(_host, options, signal) {
    if (options.registries === null) return null;
    let ca: string[] | undefined;
    if (options.registryCaFile) {
      try {
        ca = [...rootCertificates, await readFile(options.registryCaFile, 'utf8')];
      } catch (e) {
        throw new ProbeFailure(
          'read',
          `cannot read registry CA file ${options.registryCaFile}: ${(e as Error).message}`,
        );
      }
    }
    return Promise.all(
      options.registries
        .slice(0, 32)
        .map((r) => probeRegistry(r, { timeoutMs: options.registryTimeoutMs, ca }, signal)),
    );
  },
};
