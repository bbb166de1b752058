// The aggregator's configuration from its flags, each with an environment equivalent
// (`--stale-after` ⇄ OSMO_VALIDATOR_STALE_AFTER; a flag wins over the environment). Everything is checked
// here, before anything starts, and every problem is a UsageError naming the flag (exit status 2).
import { parseArgs } from 'node:util';
import { parseDurationInRange, UsageError } from '../agent/options.js';
import { errorMessage } from '../report/error-message.js';
import { ROLES, type Role } from '../report/schema.js';
import {
  DEFAULT_AGENT_SERVICE_ACCOUNT,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_REVIEW_BURST,
  DEFAULT_TOKEN_REVIEW_QPS,
} from './auth/token-review.js';
import { type NamespacedName, parseNamespacedName } from './k8s/namespaced-name.js';

export { UsageError };

export const ENV_PREFIX = 'OSMO_VALIDATOR_';
export const DEFAULT_LISTEN = '0.0.0.0:8443';
/** 3 × the agents' 5 min heartbeat. */
export const DEFAULT_STALE_AFTER = '15m';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type AggregatorLogLevel = (typeof LOG_LEVELS)[number];

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export type { NamespacedName };

export interface AggregatorConfig {
  listen: { host: string; port: number };
  specFile: string | undefined;
  kubeconfig: string | undefined;
  tokenFile: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  tlsBootstrap: NamespacedName | undefined;
  insecureHttp: boolean;
  dryRun: boolean;
  tokenAudience: string;
  agentServiceAccount: NamespacedName;
  staleAfterMs: number;
  noAuth: boolean;
  logLevel: AggregatorLogLevel;
  labelPrefix: string | undefined;
  taintRoles: Role[] | undefined;
  maxTaintedPercent: number | undefined;
  qps: number | undefined;
  burst: number | undefined;
  tokenReviewQps: number;
  tokenReviewBurst: number;
}

/** `--token-file` → `OSMO_VALIDATOR_TOKEN_FILE`. */
export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

/** Flags merged over their environment variables; `help` is never taken from the environment. */
export function readFlags(
  argv: string[],
  flags: FlagSpec,
  env: NodeJS.ProcessEnv,
): Record<string, string | boolean | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const merged: Record<string, string | boolean | undefined> = { ...values };
  for (const [flag, spec] of Object.entries(flags)) {
    if (flag === 'help' || merged[flag] !== undefined) continue;
    const raw = env[envName(flag)];
    if (raw === undefined || raw === '') continue;
    if (spec.type === 'string') merged[flag] = raw;
    else if (/^(true|1|yes)$/i.test(raw)) merged[flag] = true;
    else if (/^(false|0|no)$/i.test(raw)) merged[flag] = false;
    else throw new UsageError(`${envName(flag)}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  return merged;
}

export function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `${flag}: expected HOST:PORT (e.g. 0.0.0.0:8443, [::]:8443), got ${JSON.stringify(text)}`,
    );
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** NAMESPACE/NAME of a flag (k8s/namespaced-name.ts), as a UsageError naming the flag. */
export function parseNamespacedNameFlag(text: string, flag: string): NamespacedName {
  try {
    return parseNamespacedName(text);
  } catch (err) {
    throw new UsageError(`${flag}: ${errorMessage(err)}`);
  }
}

export function parseRoleList(text: string, flag = '--taint-roles'): Role[] {
  if (text.trim() === 'none') return [];
  const roles = text.split(',').map((r) => r.trim());
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new UsageError(
        `${flag}: unknown role ${JSON.stringify(r)}; use a comma-separated list of ${ROLES.join(', ')}, or none`,
      );
    }
  }
  return [...new Set(roles as Role[])];
}

function parseNumber(text: string, flag: string, min: number, max: number, integer = false): number {
  const n = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `${flag}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** The checked configuration (no file is read here except for existence checks by the caller). */
export function parseAggregatorConfig(
  values: Record<string, string | boolean | undefined>,
): AggregatorConfig {
  const tlsCert = str(values['tls-cert']);
  const tlsKey = str(values['tls-key']);
  const insecureHttp = values['insecure-http'] === true;
  const bootstrapText = str(values['tls-bootstrap']);
  const tlsBootstrap = bootstrapText ? parseNamespacedNameFlag(bootstrapText, '--tls-bootstrap') : undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: pass both files');
  }
  const modes = [
    tlsCert ? '--tls-cert/--tls-key' : '',
    tlsBootstrap ? '--tls-bootstrap' : '',
    insecureHttp ? '--insecure-http' : '',
  ].filter(Boolean);
  if (modes.length === 0) {
    throw new UsageError(
      'no TLS configured: pass --tls-cert FILE --tls-key FILE (or --tls-bootstrap NAMESPACE/SECRET in a cluster); ' +
        'plain HTTP only with an explicit --insecure-http',
    );
  }
  if (modes.length > 1) throw new UsageError(`choose one of ${modes.join(', ')}`);

  const noAuth = values['no-auth'] === true;
  const tokenFile = str(values['token-file']);
  if (noAuth && tokenFile)
    throw new UsageError('--no-auth and --token-file contradict each other: choose one');

  const logLevel = str(values['log-level']) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(
      `--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const audience = str(values['token-audience']) ?? DEFAULT_TOKEN_AUDIENCE;
  if (audience.trim() === '') throw new UsageError('--token-audience must not be empty');

  const num = (flag: string, min: number, max: number, integer = false) => {
    const v = str(values[flag]);
    return v === undefined ? undefined : parseNumber(v, `--${flag}`, min, max, integer);
  };
  const taintRoles = str(values['taint-roles']);

  return {
    listen: parseListen(str(values['listen']) ?? DEFAULT_LISTEN),
    specFile: str(values['spec']),
    kubeconfig: str(values['kubeconfig']),
    tokenFile,
    tls: tlsCert && tlsKey ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
    tlsBootstrap,
    insecureHttp,
    dryRun: values['dry-run'] === true,
    tokenAudience: audience,
    agentServiceAccount: parseNamespacedNameFlag(
      str(values['agent-service-account']) ?? DEFAULT_AGENT_SERVICE_ACCOUNT,
      '--agent-service-account',
    ),
    staleAfterMs: parseDurationInRange(
      str(values['stale-after']) ?? DEFAULT_STALE_AFTER,
      '--stale-after',
      10_000,
      7 * 24 * 3_600_000,
    ),
    noAuth,
    logLevel: logLevel as AggregatorLogLevel,
    labelPrefix: str(values['label-prefix']),
    taintRoles: taintRoles === undefined ? undefined : parseRoleList(taintRoles),
    maxTaintedPercent: num('max-tainted-percent', 0, 100),
    qps: num('qps', 0.1, 10_000),
    burst: num('burst', 1, 100_000, true),
    tokenReviewQps: num('token-review-qps', 0.1, 10_000) ?? DEFAULT_TOKEN_REVIEW_QPS,
    tokenReviewBurst: num('token-review-burst', 1, 100_000, true) ?? DEFAULT_TOKEN_REVIEW_BURST,
  };
}
