// The `agent` command: the DaemonSet's long-running process (or one report with --once). Parses flags,
// wires the host context, the collector, the sender and the reporter loop, an optional /healthz endpoint,
// and SIGTERM. Nothing here imports fastify, pino, the Kubernetes client, execa or systeminformation.
import http from 'node:http';
import { errorMessage } from '../report/error-message.js';
import type { Facts, ProbeError, Report } from '../report/schema.js';
import { packageVersion } from '../report/version.js';
import { collectFacts, DEFAULT_REGISTRIES } from './collect.js';
import { createHostContext, type ExecMode, killAllHostProcesses } from './host.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { explicitNodeName, NodeNameError, resolveNodeName } from './node-name.js';
import {
  DEFAULT_REGISTRY_TIMEOUT_MS,
  formatDuration,
  parseDurationInRange,
  parseExecMode,
  parseFlags,
  parseHostRoot,
  parseLogLevel,
  parsePort,
  parseRegistries,
  parseRegistryTimeout,
  UsageError,
} from './options.js';
import { hostnameProbe } from './probes/hostname.js';
import { createReporter, type Reporter, reportOnce } from './reporter.js';
import { createSender, DEFAULT_SEND_TIMEOUT_MS, parseAggregatorUrl, type SendFn } from './sender.js';

export const HELP = `Usage: osmo-node-validator agent --aggregator URL [options]

Probes this node on a schedule and reports its facts to the aggregator: at once when they change,
otherwise every --heartbeat. While the aggregator is unavailable it retries with exponential backoff
(full jitter, 1s to 5m, Retry-After honoured), keeping only the newest report; it never exits for that.

Options:
  --aggregator URL         aggregator base URL, e.g. https://osmo-node-validator.osmo-node-validator.svc
                           (default: env OSMO_VALIDATOR_AGGREGATOR). Reports go to URL/api/v1/reports.
  --token-file FILE        bearer token, re-read before every report (the projected ServiceAccount token)
  --ca-file FILE           CA bundle trusted for the aggregator's certificate, re-read when it changes
  --allow-insecure-http    allow plain http:// to a non-loopback aggregator (the token travels in clear)
  --node-name NAME         this node's Kubernetes name (default: env NODE_NAME, then the host's hostname
                           read under --host-root, then this machine's only when --host-root is /;
                           lowercased). Resolved once at start; an invalid name exits 2.
  --interval DURATION      how often to probe (default 60s, ±10% jitter)
  --heartbeat DURATION     send even unchanged facts after this long (default 5m)
  --timeout DURATION       request timeout for one report to the aggregator (default 10s)
  --registries LIST|none   registry hosts (host[:port],...) to probe (default ${DEFAULT_REGISTRIES.join(',')})
  --registry-timeout DURATION
                           per-registry probe timeout (default ${formatDuration(DEFAULT_REGISTRY_TIMEOUT_MS)}; what \`check --timeout\` sets)
  --host-root DIR          the host's root filesystem as this process sees it (default /; /host in the pod)
  --exec-mode local|chroot how host commands run (default local)
  --once                   probe, send one report and exit: 0 accepted, 1 rejected (4xx), 2 bad arguments
                           or unreadable token/CA file, 3 aggregator unreachable (network, TLS, timeout,
                           5xx, 408, 429)
  --health-port PORT       serve GET /healthz on this port (off unless given)
  --health-host HOST       address for --health-port (default 0.0.0.0)
  --log-level LEVEL        debug, info, warn, error or silent (default info); JSON lines on stderr
  -h, --help               this text

Durations: 250ms, 30s, 5m, 1h, 1h30m.
`;

const FLAGS = {
  aggregator: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  'insecure-http': { type: 'boolean' },
  'node-name': { type: 'string' },
  interval: { type: 'string' },
  heartbeat: { type: 'string' },
  timeout: { type: 'string' },
  registries: { type: 'string' },
  'registry-timeout': { type: 'string' },
  'host-root': { type: 'string' },
  'exec-mode': { type: 'string' },
  once: { type: 'boolean' },
  'health-port': { type: 'string' },
  'health-host': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const EXIT_ACCEPTED = 0;
export const EXIT_REJECTED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

export interface AgentConfig {
  aggregator: URL;
  tokenFile: string | undefined;
  caFile: string | undefined;
  /** From --node-name or NODE_NAME; null: resolved from the host's hostname at start. */
  nodeName: string | null;
  intervalMs: number;
  heartbeatMs: number;
  /** Request timeout for one report. */
  timeoutMs: number;
  registries: string[] | null;
  /** Per-registry probe timeout. */
  registryTimeoutMs: number;
  hostRoot: string;
  execMode: ExecMode;
  once: boolean;
  health: { host: string; port: number } | null;
  logLevel: LogLevel;
}

const DAY_MS = 86_400_000;

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): AgentConfig | 'help' {
  const v = parseFlags(argv, FLAGS);
  if (v.help) return 'help';
  const aggregatorText = v.aggregator ?? env.OSMO_VALIDATOR_AGGREGATOR;
  if (aggregatorText === undefined || aggregatorText === '') {
    throw new UsageError('--aggregator URL is required (or set OSMO_VALIDATOR_AGGREGATOR)');
  }
  const aggregator = parseAggregatorUrl(
    aggregatorText,
    Boolean(v['allow-insecure-http'] || v['insecure-http']),
  );
  const intervalMs = parseDurationInRange(v.interval ?? '60s', '--interval', 1000, DAY_MS);
  const heartbeatMs = parseDurationInRange(v.heartbeat ?? '5m', '--heartbeat', 1000, 7 * DAY_MS);
  const timeoutMs =
    v.timeout === undefined
      ? DEFAULT_SEND_TIMEOUT_MS
      : parseDurationInRange(v.timeout, '--timeout', 100, 300_000);
  const registryTimeoutMs = parseRegistryTimeout(v['registry-timeout']);
  let nodeName: string | null;
  try {
    nodeName = explicitNodeName({ flag: v['node-name'], env: env.NODE_NAME });
  } catch (e) {
    if (e instanceof NodeNameError) throw new UsageError(e.message);
    throw e;
  }
  for (const flag of ['token-file', 'ca-file'] as const) {
    if (v[flag] === '') throw new UsageError(`--${flag}: empty path`);
  }
  return {
    aggregator,
    tokenFile: v['token-file'],
    caFile: v['ca-file'],
    nodeName,
    intervalMs,
    heartbeatMs,
    timeoutMs,
    registries: v.registries === undefined ? [...DEFAULT_REGISTRIES] : parseRegistries(v.registries),
    registryTimeoutMs,
    hostRoot: parseHostRoot(v['host-root'] ?? '/'),
    execMode: parseExecMode(v['exec-mode'] ?? 'local'),
    once: Boolean(v.once),
    health:
      v['health-port'] === undefined
        ? null
        : { host: v['health-host'] ?? '0.0.0.0', port: parsePort(v['health-port'], '--health-port', true) },
    logLevel: parseLogLevel(v['log-level'] ?? 'info'),
  };
}

type Collected = { facts: Facts; probeErrors: ProbeError[] };

/** Seams for tests; the defaults are the real thing. */
export interface AgentDeps {
  env?: NodeJS.ProcessEnv;
  /** Replaces probing the host (default: collectFacts on --host-root). */
  collect?: (config: AgentConfig) => Promise<Collected>;
  /** Replaces the HTTP sender. */
  send?: SendFn;
  /** Replaces reading the host's hostname under --host-root (default: the hostname probe). */
  hostname?: (config: AgentConfig) => Promise<string | null>;
  osHostname?: () => string;
  log?: Logger;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Aborting it stops the loop like SIGTERM does. */
  stop?: AbortSignal;
  /** Install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
  /** Called once the loop runs (tests: the reporter and the health address). */
  onStarted?: (started: { reporter: Reporter; health: { host: string; port: number } | null }) => void;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function defaultCollect(config: AgentConfig): Promise<Collected> {
  const host = createHostContext({ root: config.hostRoot, execMode: config.execMode });
  return collectFacts(host, {
    registries: config.registries,
    registryTimeoutMs: config.registryTimeoutMs,
  });
}

/** The hostname probe alone, bounded by its own timeout: the node name is needed before the loop starts. */
async function defaultHostname(config: AgentConfig): Promise<string | null> {
  const host = createHostContext({ root: config.hostRoot, execMode: config.execMode });
  const options = { registries: null, registryTimeoutMs: config.registryTimeoutMs };
  const signal = AbortSignal.timeout(hostnameProbe.timeoutMs);
  try {
    return await abortable(hostnameProbe.run(host, options, signal), signal);
  } catch (e) {
    if (!signal.aborted) throw e;
    throw new Error(`reading the hostname took longer than ${formatDuration(hostnameProbe.timeoutMs)}`);
  }
}

/** --node-name / NODE_NAME, else the host's hostname, resolved once (a node's name does not change). */
async function startupNodeName(config: AgentConfig, deps: AgentDeps): Promise<string> {
  if (config.nodeName !== null) return config.nodeName;
  let hostnameFact: string | null = null;
  let hostnameError: string | undefined;
  try {
    hostnameFact = await (deps.hostname ?? defaultHostname)(config);
  } catch (e) {
    hostnameError = errorMessage(e);
  }
  return resolveNodeName({
    hostnameFact,
    hostnameError,
    hostRoot: config.hostRoot,
    ...(deps.osHostname !== undefined ? { osHostname: deps.osHostname } : {}),
  });
}

export async function run(argv: string[]): Promise<number> {
  const code = await runAgent(argv, {});
  // After SIGTERM the loop is stopped, but a probe command abandoned mid-run may still hold the event
  // loop until its own timeout: do not let it delay the pod's termination.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

export async function runAgent(argv: string[], deps: AgentDeps): Promise<number> {
  const stdout = deps.stdout ?? ((t: string) => process.stdout.write(t));
  const stderr = deps.stderr ?? ((t: string) => process.stderr.write(t));
  let config: AgentConfig;
  try {
    const parsed = parseAgentArgs(argv, deps.env ?? process.env);
    if (parsed === 'help') {
      stdout(HELP);
      return 0;
    }
    config = parsed;
  } catch (e) {
    if (e instanceof UsageError) {
      stderr(
        `osmo-node-validator agent: ${e.message}\nRun \`osmo-node-validator agent --help\` for the options.\n`,
      );
      return EXIT_USAGE;
    }
    throw e;
  }

  let node: string;
  try {
    node = await startupNodeName(config, deps);
  } catch (e) {
    if (!(e instanceof NodeNameError)) throw e;
    stderr(`osmo-node-validator agent: ${e.message}\n`);
    return EXIT_USAGE;
  }

  const log = deps.log ?? createLogger({ level: config.logLevel });
  const agentVersion = packageVersion();
  const collect = deps.collect ?? defaultCollect;
  const send =
    deps.send ??
    createSender({
      url: config.aggregator,
      tokenFile: config.tokenFile,
      caFile: config.caFile,
      timeoutMs: config.timeoutMs,
    });

  const collectReport = async (signal: AbortSignal): Promise<Report> => {
    // collectFacts takes no stop signal and bounds every probe itself: on stop we stop waiting for it,
    // and the stop path kills the host commands it left running (stopHostCommands).
    const { facts, probeErrors } = await abortable(collect(config), signal);
    return {
      schemaVersion: 1,
      node,
      agentVersion,
      collectedAt: new Date().toISOString(),
      facts,
      probeErrors,
    };
  };

  if (config.once) return runOnce(config, collectReport, send, log, stdout, stderr);

  const reporter = createReporter(
    { collect: collectReport, send, log },
    { intervalMs: config.intervalMs, heartbeatMs: config.heartbeatMs },
  );
  log.info('reporting to aggregator', {
    aggregator: config.aggregator.href,
    node,
    version: agentVersion,
  });

  let healthServer: http.Server | null = null;
  let healthAddress: { host: string; port: number } | null = null;
  if (config.health !== null) {
    try {
      healthServer = await startHealthServer(config.health, reporter, config.intervalMs);
      const address = healthServer.address();
      healthAddress =
        address !== null && typeof address === 'object'
          ? { host: address.address, port: address.port }
          : null;
      log.info('health endpoint listening', { ...healthAddress });
    } catch (e) {
      stderr(
        `osmo-node-validator agent: cannot listen on --health-port ${config.health.port}: ${String(e)}\n`,
      );
      return EXIT_USAGE;
    }
  }

  let onSignal: ((signal: NodeJS.Signals) => void) | null = null;
  const stopped = new Promise<string>((resolve) => {
    if (deps.stop?.aborted) resolve('stop requested');
    deps.stop?.addEventListener('abort', () => resolve('stop requested'), { once: true });
    if (deps.handleSignals !== false) {
      onSignal = (signal: NodeJS.Signals) => resolve(signal);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
  });
  reporter.start();
  deps.onStarted?.({ reporter, health: healthAddress });
  const reason = await stopped;
  log.info(`stopping (${reason})`);
  if (onSignal !== null) {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  }
  stopHostCommands(log);
  await reporter.stop();
  if (healthServer !== null) {
    const server = healthServer;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  log.info('stopped');
  return 0;
}

async function runOnce(
  config: AgentConfig,
  collectReport: (signal: AbortSignal) => Promise<Report>,
  send: SendFn,
  log: Logger,
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => {
    stopHostCommands(log);
    controller.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    let outcome: Awaited<ReturnType<typeof reportOnce>>;
    try {
      outcome = await reportOnce(collectReport, send, controller.signal);
    } catch (e) {
      stderr(`osmo-node-validator agent: ${errorMessage(e)}\n`);
      return EXIT_USAGE;
    }
    const { report, result } = outcome;
    const where = config.aggregator.href;
    switch (result.kind) {
      case 'accepted':
        log.debug('report accepted', { status: result.status });
        stdout(`report for node ${report.node} accepted by ${where} (HTTP ${result.status})\n`);
        return EXIT_ACCEPTED;
      case 'rejected':
        stderr(`osmo-node-validator agent: report for node ${report.node} rejected: ${result.message}\n`);
        return EXIT_REJECTED;
      case 'unavailable':
        stderr(`osmo-node-validator agent: could not deliver the report to ${where}: ${result.reason}\n`);
        return EXIT_UNREACHABLE;
      case 'local-error':
        stderr(`osmo-node-validator agent: ${result.message}\n`);
        return EXIT_USAGE;
    }
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  }
}

/**
 * A stopped probe run is only abandoned (collectFacts takes no stop signal): its host commands would run
 * on until their own timeouts, so kill every one still running.
 */
function stopHostCommands(log: Logger): void {
  const killed = killAllHostProcesses();
  if (killed > 0) log.info('killed host commands still running', { processGroups: killed });
}

/**
 * GET /healthz: 200 while the loop is alive (a probe finished within 3 intervals + 2 minutes of the
 * last one, or of the start), 503 otherwise, so the kubelet restarts a wedged agent. An unreachable
 * aggregator does not make the agent unhealthy: restarting would not help.
 */
async function startHealthServer(
  listen: { host: string; port: number },
  reporter: Reporter,
  intervalMs: number,
): Promise<http.Server> {
  const limitMs = 3 * intervalMs + 120_000;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const status = reporter.status();
    const sinceMs = Date.now() - (status.lastProbeAt ?? status.startedAt);
    const healthy = sinceMs < limitMs;
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(
      `${JSON.stringify({
        status: healthy ? 'ok' : `no probe finished for ${formatDuration(sinceMs)}`,
        delivery: status.state,
        lastProbeAt: status.lastProbeAt === null ? null : new Date(status.lastProbeAt).toISOString(),
        lastAcceptedAt: status.lastAcceptedAt === null ? null : new Date(status.lastAcceptedAt).toISOString(),
        pending: status.pending,
      })}\n`,
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
