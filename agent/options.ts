// The options of `check` and `agent` as data (report/flag-table.ts): each flag once, with its value kind,
// default, environment variable and help. The host flags are one group both commands take. Their
// parsers and --help are generated from these tables, and a test holds README's option lists to them.
import { statSync } from 'node:fs';
import path from 'node:path';
import { ROLES } from '../report/constants.js';
import { formatDuration } from '../report/duration.js';
import { envName, type FlagTable, type ValueKind } from '../report/flag-table.js';
import { choice, duration, file, port, SWITCH, text } from '../report/flag-values.js';
import { parseRegistryReference } from '../report/grammars.js';
import { LIMITS } from '../report/limits.js';
import { LOG_FORMATS } from '../report/log-line.js';
import { UsageError } from '../report/usage-error.js';
import { OUTPUT_FORMATS } from './check-output.js';
import { DEFAULT_REGISTRIES } from './collect.js';
import type { ExecMode } from './host.js';
import { LOG_LEVELS } from './log.js';
import { explicitNodeName, NodeNameError } from './node-name.js';
import { osmoUrlProblem } from './probes/osmo.js';
import { DEFAULT_SEND_TIMEOUT_MS } from './sender.js';

/** Resolves --host-root to an absolute path and checks it is a directory. */
function parseHostRoot(value: string, flag = '--host-root'): string {
  if (value.length === 0) throw new UsageError(`${flag}: empty path`);
  const dir = path.resolve(value);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`${flag}: ${dir} does not exist`);
  }
  if (!isDir) throw new UsageError(`${flag}: ${dir} is not a directory`);
  return dir;
}

/**
 * `--registries`: comma-separated `host[:port][/repository[:tag]]` list; `none` → null (the probe is
 * skipped). Duplicates are dropped, order kept.
 */
export function parseRegistries(value: string, flag = '--registries'): string[] | null {
  const trimmed = value.trim();
  if (trimmed.toLowerCase() === 'none') return null;
  const hosts = trimmed
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  if (hosts.length === 0)
    throw new UsageError(`${flag}: empty list; give host[:port][/repository[:tag]],... or none`);
  const max = LIMITS.facts.registryItems;
  if (hosts.length > max) throw new UsageError(`${flag}: at most ${max} registries`);
  for (const host of hosts) {
    if (parseRegistryReference(host) === null) {
      throw new UsageError(
        `${flag}: ${JSON.stringify(host)} is not host[:port][/repository[:tag]] ` +
          '(e.g. nvcr.io, mirror.local:5000, mirror.local:5000/library/busybox:1.36)',
      );
    }
  }
  return [...new Set(hosts)];
}

/** --node-name / NODE_NAME, checked and lowercased as node-name.ts does. */
const NODE_NAME: ValueKind<string> = {
  metavar: 'NAME',
  parse(value, label) {
    let name: string | null;
    try {
      name = explicitNodeName({ flag: value });
    } catch (e) {
      if (!(e instanceof NodeNameError)) throw e;
      // node-name.ts words its errors for --node-name; name where the value came from instead.
      throw new UsageError(e.message.replace(/^--node-name/, label));
    }
    if (name === null) throw new UsageError(`${label}: empty value`);
    return name;
  },
};

export const EXEC_MODE = choice<ExecMode>(['local', 'chroot']);

/** A comma-separated list of check ids (checked against the spec once it is loaded). */
const CHECK_IDS: ValueKind<string[]> = {
  metavar: 'IDS',
  parse(value, label) {
    const ids = value.split(',').map((id) => id.trim());
    if (ids.some((id) => id === ''))
      throw new UsageError(`${label}: empty check id in ${JSON.stringify(value)}`);
    return [...new Set(ids)];
  },
};
const REGISTRIES: ValueKind<string[] | null> = { metavar: 'LIST|none', parse: parseRegistries };

/** --osmo-url: an absolute https URL without credentials. */
const OSMO_URL: ValueKind<string> = {
  metavar: 'URL',
  parse(value, label) {
    const problem = osmoUrlProblem(value.trim());
    if (problem !== null) throw new UsageError(`${label}: ${JSON.stringify(value)} is ${problem}`);
    return value.trim();
  },
};
export const LOG_LEVEL = choice(LOG_LEVELS, 'LEVEL');

const DAY_MS = 86_400_000;

/** How both commands reach the host, and the name they speak for. */
export const HOST_FLAGS = {
  'host-root': {
    kind: { metavar: 'DIR', parse: parseHostRoot },
    default: '/',
    help: "the host's root filesystem as this process sees it (/host in the pod); every host file is read under it",
  },
  'exec-mode': {
    kind: EXEC_MODE,
    default: 'local',
    help:
      'how host commands run: local runs them here, looking each one up under DIR (and on PATH only when DIR is /); ' +
      'chroot runs them inside DIR',
  },
  registries: {
    kind: REGISTRIES,
    default: DEFAULT_REGISTRIES.join(','),
    help:
      'registries to probe (host[:port][/repository[:tag]],...), e.g. mirrors: GET /v2/, then an anonymous pull of ' +
      "the image's manifest (nvcr.io, docker.io, ghcr.io have a default public image); none skips the probe",
  },
  'registry-timeout': {
    kind: duration(100, 120_000),
    default: '5s',
    help: 'per-registry probe timeout (/v2/, and again the pull), also the --osmo-url probe timeout',
  },
  'osmo-url': {
    kind: OSMO_URL,
    env: envName('osmo-url'),
    help:
      'the OSMO service URL (https) the node must reach (osmo.reachable: any HTTP status over TLS passes); ' +
      'without it the check is skip',
  },
  'node-name': {
    kind: NODE_NAME,
    env: 'NODE_NAME',
    help:
      "the node's name; without it NODE_NAME, then the host's hostname read under --host-root, then " +
      "this machine's (only when --host-root is /); lowercased; an invalid name is an error, never a guess",
  },
} as const satisfies FlagTable;

export const CHECK_FLAGS = {
  ...HOST_FLAGS,
  timeout: {
    aliasOf: 'registry-timeout',
    help: 'per-registry probe timeout: the same as --registry-timeout (give only one)',
  },
  role: {
    kind: choice(['auto', ...ROLES]),
    default: 'auto',
    help:
      "which requirements apply; auto: the role the kubelet's --node-labels name, else jetson when etc/nv_tegra_release exists, control-plane with a " +
      'kube-apiserver static pod manifest, gpu with an NVIDIA GPU (nvidia-smi or on the PCI bus), else compute',
  },
  spec: { kind: file(), help: 'a spec file instead of the built-in baseline' },
  checks: {
    kind: CHECK_IDS,
    help: 'run only these checks (comma-separated ids, e.g. gpu.driver,gpu.cuda); an unknown id is an error (exit 2)',
  },
  'skip-checks': {
    kind: CHECK_IDS,
    help: 'leave these checks out (comma-separated ids); an unknown id is an error (exit 2)',
  },
  output: {
    kind: choice(OUTPUT_FORMATS, 'json|table|junit'),
    help: 'table (for people; without --output), json (one document: the result and its totals) or junit (JUnit XML for CI, one testcase per check)',
  },
  json: { kind: SWITCH, help: 'the same as --output json' },
} as const satisfies FlagTable;

export const AGENT_FLAGS = {
  aggregator: {
    kind: text('URL'),
    env: envName('aggregator'),
    help:
      'aggregator base URL (required), e.g. https://osmo-node-validator.osmo-node-validator.svc; ' +
      'reports go to URL/api/v1/reports',
  },
  'token-file': {
    kind: file(),
    help: 'bearer token, re-read before every report (the projected ServiceAccount token)',
  },
  'ca-file': {
    kind: file(),
    help: "CA bundle trusted for the aggregator's certificate, re-read when it changes",
  },
  'allow-insecure-http': {
    kind: SWITCH,
    help: 'allow plain http:// to a non-loopback aggregator (the token travels in clear)',
  },
  interval: { kind: duration(1000, DAY_MS), default: '60s', help: 'how often to probe, ±10% jitter' },
  heartbeat: {
    kind: duration(1000, 7 * DAY_MS),
    default: '5m',
    help: 'send even unchanged facts after this long',
  },
  timeout: {
    kind: duration(100, 300_000),
    default: formatDuration(DEFAULT_SEND_TIMEOUT_MS),
    help: 'request timeout for one report to the aggregator',
  },
  ...HOST_FLAGS,
  once: {
    kind: SWITCH,
    help:
      'probe, send one report and exit: 0 accepted, 1 rejected (4xx), 2 bad arguments or unreadable ' +
      'token/CA file, 3 aggregator unreachable (network, TLS, timeout, 5xx, 408, 429)',
  },
  'health-port': {
    kind: port({ allowZero: true }),
    help: 'serve GET /healthz on this port (off unless given)',
  },
  'health-host': {
    kind: text('HOST'),
    default: '127.0.0.1',
    help:
      'address for --health-port; loopback by default (the agent is on the host network: any other ' +
      'address is reachable from every pod)',
  },
  'log-level': { kind: LOG_LEVEL, default: 'info', help: 'log lines on stderr from this level up' },
  'log-format': {
    kind: choice(LOG_FORMATS),
    default: 'json',
    help: 'json: one JSON object a line (level, RFC 3339 time, msg, fields), as the aggregator logs; text: for people',
  },
} as const satisfies FlagTable;
