// The options of `aggregator` and `prune` as data (report/flag-table.ts): each flag once, with its value
// kind, default, environment variable and help. Every aggregator flag can also come from
// OSMO_VALIDATOR_<FLAG>. Their parsers and --help are generated from these tables, and a test holds
// README's option lists to them. Combinations of flags are checked in config.ts.
import { ROLES, type Role } from '../report/constants.js';
import { formatDuration } from '../report/duration.js';
import { errorMessage } from '../report/error-message.js';
import { type FlagTable, type ValueKind, withEnvironment } from '../report/flag-table.js';
import { choice, duration, file, number, SWITCH, text } from '../report/flag-values.js';
import { LOG_FORMATS } from '../report/log-line.js';
import { UsageError } from '../report/usage-error.js';
import {
  DEFAULT_AGENT_SERVICE_ACCOUNT,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_REVIEW_BURST,
  DEFAULT_TOKEN_REVIEW_QPS,
} from './auth/token-review.js';
import { checkConditionPrefix, DEFAULT_CONDITION_PREFIX, DEFAULT_LABEL_PREFIX } from './k8s/names.js';
import { type NamespacedName, parseNamespacedName } from './k8s/namespaced-name.js';
import { DEFAULT_CONNECTION_LIMITS } from './server/connection-limits.js';
import { DEFAULT_SPEC_POLL } from './spec-watcher.js';

const DEFAULT_LISTEN = '0.0.0.0:8443';
/** Well below Kubernetes' default terminationGracePeriodSeconds (30 s), which the Deployment keeps. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** 3 × the agents' 5 min heartbeat. */
const DEFAULT_STALE_AFTER = '15m';
/**
 * Standalone: a generous cap that still bounds memory. 10,000 distinct realistic reports (fixture host
 * ubuntu2204-gpu-pass, built-in spec, in process, Node 24) held ~50 MiB of live heap (~5 KiB a node) and
 * took RSS from 160 to 365 MiB; with Kubernetes DEPLOY.md › Sizing counts ~30 KiB a node with the cached
 * Node. A fleet beyond it is told so with a 403.
 */
export const DEFAULT_MAX_NODES = 10_000;
/**
 * Standalone: 7 days. A node switched off for a long weekend or a holiday stays listed as `unknown` (what
 * its operator needs to see); only a node renamed or gone for good is forgotten, freeing its --max-nodes
 * slot. Memory is bounded by --max-nodes whatever this is.
 */
const DEFAULT_FORGET_AFTER = '168h';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type AggregatorLogLevel = (typeof LOG_LEVELS)[number];

export function parseListen(value: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `${flag}: expected HOST:PORT (e.g. 0.0.0.0:8443, [::]:8443), got ${JSON.stringify(value)}`,
    );
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** NAMESPACE/NAME of a flag (k8s/namespaced-name.ts), as a UsageError naming the flag. */
function parseNamespacedNameFlag(value: string, flag: string): NamespacedName {
  try {
    return parseNamespacedName(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${errorMessage(err)}`);
  }
}

function parseRoleList(value: string, flag = '--taint-roles'): Role[] {
  if (value.trim() === 'none') return [];
  const roles = value.split(',').map((r) => r.trim());
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new UsageError(
        `${flag}: unknown role ${JSON.stringify(r)}; use a comma-separated list of ${ROLES.join(', ')}, or none`,
      );
    }
  }
  return [...new Set(roles as Role[])];
}

/** A condition prefix ending in osmo.nvidia.com/ (k8s/names.ts), as a UsageError naming the flag. */
const conditionPrefix: ValueKind<string> = {
  metavar: 'PREFIX',
  parse: (value: string, flag = '--condition-prefix') => {
    try {
      checkConditionPrefix(value);
    } catch (err) {
      throw new UsageError(`${flag}: ${errorMessage(err)}`);
    }
    return value;
  },
};

const namespacedName = (metavar: string): ValueKind<NamespacedName> => ({
  metavar,
  parse: parseNamespacedNameFlag,
});

const TLS = 'Listening, and TLS (exactly one of --tls-cert/--tls-key, --tls-bootstrap, --insecure-http)';
const AUTH = 'Authentication of agents (default with Kubernetes: TokenReview of their ServiceAccount tokens)';
const READ = 'Read access to GET /api/v1/* and /metrics (default with Kubernetes: RBAC of the bearer token)';
const EVALUATION = 'Evaluation';
const KUBERNETES =
  'Kubernetes (with --kubeconfig FILE, KUBECONFIG or in-cluster; with none it runs standalone and writes nothing)';
const OTHER = 'Other';

export const AGGREGATOR_FLAGS = withEnvironment({
  listen: {
    kind: { metavar: 'HOST:PORT', parse: parseListen },
    default: DEFAULT_LISTEN,
    section: TLS,
    help: 'address to listen on',
  },
  'tls-cert': {
    kind: file(),
    help: 'HTTPS with this certificate and --tls-key; both are re-read when they change',
  },
  'tls-key': { kind: file(), help: "the certificate's private key, with --tls-cert" },
  'tls-bootstrap': {
    kind: namespacedName('NS/SECRET'),
    help:
      'in a cluster: keep a self-issued CA and serving certificate in this Secret, publish the CA in ' +
      'ConfigMap osmo-node-validator-ca, rotate before expiry',
  },
  'insecure-http': { kind: SWITCH, help: 'plain HTTP: tests, or behind a TLS-terminating proxy' },
  'max-connections': {
    kind: number({ min: 16, max: 1_000_000, integer: true }),
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnections),
    help: 'connections held at once; beyond it new ones are closed on accept',
  },
  'max-connections-per-client': {
    kind: number({ min: 1, max: 1_000_000, integer: true }),
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnectionsPerClient),
    help: 'connections held at once from one client address (an agent needs one)',
  },
  'handshake-timeout': {
    kind: duration(1000, 120_000),
    default: formatDuration(DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs),
    help: 'a TLS handshake not finished within this closes the connection',
  },
  'headers-timeout': {
    kind: duration(1000, 120_000),
    default: formatDuration(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs),
    help: 'request headers within this, the whole request within 3 × this (at least 30s)',
  },
  'keep-alive-timeout': {
    kind: duration(1000, 600_000),
    default: formatDuration(DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs),
    help: 'an idle connection is closed after this (agents report once a minute: keeping it costs memory)',
  },
  'shutdown-timeout': {
    kind: duration(1000, 600_000),
    default: formatDuration(DEFAULT_SHUTDOWN_TIMEOUT_MS),
    help:
      'on SIGTERM, requests in flight get this long to finish; connections not answering one (idle, ' +
      'handshaking, trickling headers) are closed at once, and whatever is left at this deadline is ' +
      "destroyed, so the process exits within it (keep it below the pod's terminationGracePeriodSeconds)",
  },
  'token-audience': {
    kind: text('AUD'),
    default: DEFAULT_TOKEN_AUDIENCE,
    section: AUTH,
    help: "audience the agents' tokens must carry",
  },
  'agent-service-account': {
    kind: namespacedName('NS/NAME'),
    default: DEFAULT_AGENT_SERVICE_ACCOUNT,
    help: 'the ServiceAccount whose tokens are accepted',
  },
  'token-review-qps': {
    kind: number({ min: 0.1, max: 10_000 }),
    default: String(DEFAULT_TOKEN_REVIEW_QPS),
    help: 'TokenReview rate limit; beyond it a report gets 503 with Retry-After',
  },
  'token-review-burst': {
    kind: number({ min: 1, max: 100_000, integer: true }),
    default: String(DEFAULT_TOKEN_REVIEW_BURST),
    help: 'TokenReview burst',
  },
  'token-file': {
    kind: file(),
    help: 'standalone: a shared bearer token agents present instead; re-read when it changes',
  },
  'no-auth': {
    kind: SWITCH,
    help: 'accept anything from anyone: a lab only; warns at start and on every report',
  },
  'read-token-file': {
    kind: file(),
    section: READ,
    help:
      'a bearer token readers present instead of a Kubernetes identity (standalone, or a cluster without ' +
      'RBAC for readers); re-read when it changes; while it is empty or unreadable reads are 503',
  },
  'read-open': {
    kind: SWITCH,
    help: 'anyone who reaches the port may read the API and /metrics: a lab only',
  },
  'metrics-open': {
    kind: SWITCH,
    help: '/metrics without a token (a Prometheus that cannot send one); the API keeps its rule',
  },
  spec: {
    kind: file(),
    section: EVALUATION,
    help: 'the spec to evaluate against; without it the built-in OSMO baseline',
  },
  'spec-poll': {
    kind: duration(1000, 24 * 3_600_000),
    default: DEFAULT_SPEC_POLL,
    help:
      "how often the --spec file's content is compared with the spec in force (a ConfigMap volume changes " +
      'by a symlink swap); SIGHUP re-reads it at once. A changed, valid spec is put in force and every ' +
      'stored report is evaluated again (label, taint and condition changes follow). A changed, invalid ' +
      'or unreadable file leaves the last good spec in force and is reported: /readyz answers 200 ' +
      '{"status":"degraded","specError":"..."} (not 503: with one replica that would cut every agent off), ' +
      'osmo_validator_spec_valid 0, osmo_validator_spec_reload_errors_total, an error log line and, with ' +
      'POD_NAME/POD_NAMESPACE set in a cluster, a Warning Event on the pod.',
  },
  'stale-after': {
    kind: duration(10_000, 7 * 24 * 3_600_000),
    default: DEFAULT_STALE_AFTER,
    help: 'a node silent this long is "unknown"',
  },
  'no-report-grace': {
    kind: duration(10_000, 7 * 24 * 3_600_000),
    default: DEFAULT_STALE_AFTER,
    help:
      'a node of the cluster whose agent has not reported this long after the aggregator synced gets ' +
      'conformant=unknown and the condition Unknown (NoAgentReport), subject to the mass-change guard',
  },
  'max-nodes': {
    kind: number({ min: 1, max: 1_000_000, integer: true }),
    default: String(DEFAULT_MAX_NODES),
    help:
      'standalone: nodes held at most; a report of a new node beyond it is refused (403 saying to raise ' +
      'this or wait for --forget-after), a node already held keeps reporting. With Kubernetes there is no ' +
      'cap: the cluster bounds the names',
  },
  'forget-after': {
    kind: duration(3_600_000, 8760 * 3_600_000),
    default: DEFAULT_FORGET_AFTER,
    help:
      'standalone: a node silent this long (7 days by default; longer than --stale-after) is forgotten ' +
      'and its --max-nodes slot freed. With Kubernetes a node is forgotten when it leaves the cluster',
  },
  kubeconfig: {
    kind: file(),
    section: KUBERNETES,
    help: 'kubeconfig to use; without it the files of KUBECONFIG (colon-separated, merged), then the in-cluster service account (not ~/.kube/config: a long-running writer does not follow your kubectl)',
  },
  context: { kind: text('NAME'), help: 'the kubeconfig context to use instead of its current-context' },
  'dry-run': { kind: SWITCH, help: 'compute, log and serve the changes; write nothing' },
  resync: {
    kind: duration(0, 24 * 3_600_000),
    default: '5m',
    help:
      "every known node's desired state is compared with the informer's cached copy once per this period " +
      '(each node at its own point of it) and only a difference is written: a write lost to an API outage, ' +
      'a label removed by someone else, a staleness missed; 0 turns it off',
  },
  'label-prefix': {
    kind: text('PREFIX'),
    default: DEFAULT_LABEL_PREFIX,
    help: 'prefix of the labels, the taint and the annotations',
  },
  'condition-prefix': {
    kind: conditionPrefix,
    default: DEFAULT_CONDITION_PREFIX,
    help: "prefix of the node condition's type (<PREFIX>BaselineNotMet); must end in osmo.nvidia.com/, as OSMO's validators require; OSMO's node_conditions rule must match the type it makes",
  },
  'taint-roles': {
    kind: { metavar: 'LIST|none', parse: parseRoleList },
    help: 'roles whose failing nodes are tainted; compute,gpu,jetson without it',
  },
  'max-tainted-percent': {
    kind: number({ min: 0, max: 100 }),
    help: "taint at most N% of a role's nodes, never fewer than one; 25 without it",
  },
  'guard-max-percent': {
    kind: number({ min: 0, max: 100 }),
    default: '30',
    help:
      'mass-change guard: when more than N% of a role (and at least two nodes) would newly turn ' +
      'BaselineNotMet=True or Unknown within --guard-window, the excess keeps its previous condition, ' +
      'conformant label and taint (GET /api/v1/guard, osmo_validator_guard_held_nodes, a Warning Event); ' +
      'released when the share falls back or by the accept-transition annotation',
  },
  'guard-window': {
    kind: duration(1000, 24 * 3_600_000),
    default: '10m',
    help: 'the window of --guard-max-percent',
  },
  qps: { kind: number({ min: 0.1, max: 10_000 }), help: 'Kubernetes write rate limit; 20 without it' },
  burst: {
    kind: number({ min: 1, max: 100_000, integer: true }),
    help: 'Kubernetes write burst; 50 without it',
  },
  'log-level': { kind: choice(LOG_LEVELS, 'LEVEL'), default: 'info', section: OTHER, help: 'pino level' },
  'log-format': {
    kind: choice(LOG_FORMATS),
    default: 'json',
    help: 'logs on stderr; json: one JSON object a line (string level, RFC 3339 time, msg, fields), as the agent logs; text: for people',
  },
} as const satisfies FlagTable);

export const PRUNE_FLAGS = {
  kubeconfig: {
    kind: file(),
    help: 'kubeconfig to use; without it, as kubectl: the files of KUBECONFIG (colon-separated, merged), ~/.kube/config, then the in-cluster service account',
  },
  context: { kind: text('NAME'), help: 'the kubeconfig context to use instead of its current-context' },
  'label-prefix': {
    kind: text('PREFIX'),
    default: DEFAULT_LABEL_PREFIX,
    help: 'the prefix the aggregator ran with',
  },
  'condition-prefix': {
    kind: conditionPrefix,
    default: DEFAULT_CONDITION_PREFIX,
    help: 'the condition prefix the aggregator ran with (ends in osmo.nvidia.com/)',
  },
  'dry-run': { kind: SWITCH, help: 'print what would be removed, write nothing' },
} as const satisfies FlagTable;
