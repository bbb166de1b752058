// The `agent` command: the DaemonSet's long-running process (or one report with --once). Parses flags,
// wires the host context, the collector, the sender and the reporter loop, an optional /healthz endpoint,
// and SIGTERM. Nothing here imports fastify, pino, the Kubernetes client, execa or systeminformation.
import type { Server } from 'node:http';
import { formatDuration } from '../report/duration.js';
import { errorMessage } from '../report/error-message.js';
import { helpText } from '../report/flag-help.js';
import { parseFlagTable } from '../report/flag-table.js';
import type { LogFormat } from '../report/log-line.js';
import type { Facts, ProbeError, Report } from '../report/schema.js';
import { UsageError } from '../report/usage-error.js';
import { packageVersion } from '../report/version.js';
import { collectFacts } from './collect.js';
import { startHealthServer } from './health-server.js';
import { createHostContext, type ExecMode, killAllHostProcesses } from './host.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { NodeNameError, resolveNodeName } from './node-name.js';
import { AGENT_FLAGS } from './options.js';
import { hostnameProbe } from './probes/hostname.js';
import { createReporter, type Reporter, reportOnce } from './reporter.js';
import { createSender, parseAggregatorUrl, type SendFn } from './sender.js';

export const HELP = helpText(AGENT_FLAGS, {
  usage: 'osmo-node-validator agent --aggregator URL [options]',
  about: `Probes this node on a schedule and reports its facts to the aggregator: at once when they change,
otherwise every --heartbeat. While the aggregator is unavailable it retries with exponential backoff
(full jitter, 1s to 5m, Retry-After honoured), keeping only the newest report; it never exits for that.
The node name is resolved once at start; an invalid one exits 2.`,
  footer: 'Durations: 250ms, 30s, 5m, 1h, 1h30m.',
});

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
  /** --osmo-url / OSMO_VALIDATOR_OSMO_URL; null: not probed (osmo.reachable is skip). */
  osmoUrl: string | null;
  hostRoot: string;
  execMode: ExecMode;
  once: boolean;
  health: { host: string; port: number } | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): AgentConfig | 'help' {
  const v = parseFlagTable(AGENT_FLAGS, argv, env);
  if (v === 'help') return 'help';
  if (v.aggregator === undefined) {
    throw new UsageError('--aggregator URL is required (or set OSMO_VALIDATOR_AGGREGATOR)');
  }
  return {
    aggregator: parseAggregatorUrl(v.aggregator, v['allow-insecure-http']),
    tokenFile: v['token-file'],
    caFile: v['ca-file'],
    nodeName: v['node-name'] ?? null,
    intervalMs: v.interval,
    heartbeatMs: v.heartbeat,
    timeoutMs: v.timeout,
    registries: v.registries,
    registryTimeoutMs: v['registry-timeout'],
    osmoUrl: v['osmo-url'] ?? null,
    hostRoot: v['host-root'],
    execMode: v['exec-mode'],
    once: v.once,
    health: v['health-port'] === undefined ? null : { host: v['health-host'], port: v['health-port'] },
    logLevel: v['log-level'],
    logFormat: v['log-format'],
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
    osmoUrl: config.osmoUrl,
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

/** The command line → the configuration, or the exit status after printing help or the usage error. */
function readConfig(argv: string[], deps: AgentDeps, io: AgentIo): AgentConfig | number {
  try {
    const parsed = parseAgentArgs(argv, deps.env ?? process.env);
    if (parsed !== 'help') return parsed;
    io.stdout(HELP);
    return 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(
      `osmo-node-validator agent: ${e.message}\nRun \`osmo-node-validator agent --help\` for the options.\n`,
    );
    return EXIT_USAGE;
  }
}

interface AgentIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** What the loop (or --once) runs with. */
interface AgentParts {
  node: string;
  agentVersion: string;
  collectReport: (signal: AbortSignal) => Promise<Report>;
  send: SendFn;
  log: Logger;
}

export async function runAgent(argv: string[], deps: AgentDeps): Promise<number> {
  const io: AgentIo = {
    stdout: deps.stdout ?? ((t: string) => process.stdout.write(t)),
    stderr: deps.stderr ?? ((t: string) => process.stderr.write(t)),
  };
  const config = readConfig(argv, deps, io);
  if (typeof config === 'number') return config;

  let node: string;
  try {
    node = await startupNodeName(config, deps);
  } catch (e) {
    if (!(e instanceof NodeNameError)) throw e;
    io.stderr(`osmo-node-validator agent: ${e.message}\n`);
    return EXIT_USAGE;
  }

  const log = deps.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
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

  if (config.once) return runOnce(config, collectReport, send, log, io.stdout, io.stderr);
  return runLoop(config, { node, agentVersion, collectReport, send, log }, deps, io);
}

/** The long-running mode: the reporter loop and /healthz until SIGTERM/SIGINT (or deps.stop). */
async function runLoop(
  config: AgentConfig,
  parts: AgentParts,
  deps: AgentDeps,
  io: AgentIo,
): Promise<number> {
  const { log } = parts;
  const reporter = createReporter(
    { collect: parts.collectReport, send: parts.send, log },
    { intervalMs: config.intervalMs, heartbeatMs: config.heartbeatMs },
  );
  log.info('reporting to aggregator', {
    aggregator: config.aggregator.href,
    node: parts.node,
    version: parts.agentVersion,
  });

  let healthServer: Server | null = null;
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
      io.stderr(
        `osmo-node-validator agent: cannot listen on --health-port ${config.health.port}: ${String(e)}\n`,
      );
      return EXIT_USAGE;
    }
  }

  const stop = stopRequested(deps);
  reporter.start();
  deps.onStarted?.({ reporter, health: healthAddress });
  const reason = await stop.reason;
  log.info(`stopping (${reason})`);
  stop.release();
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

/** Resolves with why the loop should stop (deps.stop, or SIGTERM/SIGINT unless handleSignals is false). */
function stopRequested(deps: AgentDeps): { reason: Promise<string>; release: () => void } {
  let onSignal: ((signal: NodeJS.Signals) => void) | null = null;
  const reason = new Promise<string>((resolve) => {
    if (deps.stop?.aborted) resolve('stop requested');
    deps.stop?.addEventListener('abort', () => resolve('stop requested'), { once: true });
    if (deps.handleSignals !== false) {
      onSignal = (signal: NodeJS.Signals) => resolve(signal);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
  });
  const release = () => {
    if (onSignal === null) return;
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  };
  return { reason, release };
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
