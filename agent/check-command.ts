// `osmo-node-validator check`: probe this host once, evaluate it against the spec (built-in baseline or
// --spec), print a table or one JSON document. Exit 0: no check failed (warnings allowed); 1: a check is
// fail or error; 2: the check could not run (bad arguments, unreadable or malformed spec).
// Imports stay light: no fastify, pino or Kubernetes client on this path.
import { ROLES, type Role } from '../report/constants.js';
import type { RoleDecision } from '../spec/api.js';
import { evaluate } from '../spec/evaluate.js';
import { loadSpec, SpecError } from '../spec/load.js';
import { roleFromFacts } from '../spec/role.js';
import { collectFacts, DEFAULT_REGISTRIES } from './collect.js';
import { createHostContext, type ExecMode, killAllHostProcesses } from './host.js';
import { explicitNodeName, NodeNameError, resolveNodeName } from './node-name.js';
import {
  DEFAULT_REGISTRY_TIMEOUT_MS,
  formatDuration,
  parseExecMode,
  parseFlags,
  parseHostRoot,
  parseRegistries,
  parseRegistryTimeout,
  UsageError,
} from './options.js';
import { renderTable } from './render.js';

const USAGE = `Usage: osmo-node-validator check [options]

Probes this host once, evaluates it against the OSMO on-prem baseline (or --spec) and prints the result.

Options:
  --host-root DIR          the host's root filesystem as this process sees it (default /; /host in a pod)
  --exec-mode MODE         local (default): run host commands here, found under DIR (and on PATH
                           only when DIR is /);
                           chroot: run them inside DIR
  --role ROLE              auto (default) | control-plane | operator | compute | gpu | jetson
                           auto: jetson when etc/nv_tegra_release exists; control-plane with a kube-apiserver
                           static pod manifest; gpu with an NVIDIA GPU (nvidia-smi or on the PCI bus);
                           else compute
  --spec FILE              a spec file instead of the built-in baseline
  --registries LIST|none   registries to probe (default ${DEFAULT_REGISTRIES.join(',')}); none skips the probe
  --registry-timeout DURATION
                           per-registry probe timeout (default ${formatDuration(DEFAULT_REGISTRY_TIMEOUT_MS)}); --timeout is the same option
  --timeout DURATION       per-registry probe timeout (alias of --registry-timeout)
  --node-name NAME         node name to report (default: env NODE_NAME, then the host's hostname read
                           under --host-root, then this machine's only when --host-root is /; lowercased)
  --json                   print the result as one JSON document on stdout
  -h, --help               this text

Exit status: 0 no check failed (warnings allowed), 1 a check failed or errored, 2 the check could not run.
`;

const FLAGS = {
  'host-root': { type: 'string' },
  'exec-mode': { type: 'string' },
  role: { type: 'string' },
  spec: { type: 'string' },
  registries: { type: 'string' },
  timeout: { type: 'string' },
  'registry-timeout': { type: 'string' },
  'node-name': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where output goes; tests pass their own. */
export interface CheckIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

interface CheckConfig {
  hostRoot: string;
  execMode: ExecMode;
  role: Role | 'auto';
  specFile: string | undefined;
  registries: string[] | null;
  registryTimeoutMs: number;
  /** From --node-name or NODE_NAME; null: from the host's hostname once probed. */
  nodeName: string | null;
  json: boolean;
}

const ROLE_CHOICES: readonly string[] = ['auto', ...ROLES];

function parseRole(text: string): Role | 'auto' {
  if (ROLE_CHOICES.includes(text)) return text as Role | 'auto';
  throw new UsageError(`--role: expected one of ${ROLE_CHOICES.join(', ')}, got ${JSON.stringify(text)}`);
}

/** --registry-timeout, or its alias --timeout (the flag `check` documented first). */
function registryTimeout(v: { timeout?: string | undefined; 'registry-timeout'?: string | undefined }) {
  if (v.timeout !== undefined && v['registry-timeout'] !== undefined) {
    throw new UsageError('--timeout and --registry-timeout are the same option; give only one');
  }
  return v.timeout !== undefined
    ? parseRegistryTimeout(v.timeout, '--timeout')
    : parseRegistryTimeout(v['registry-timeout']);
}

function parseCheckArgs(argv: string[], env: NodeJS.ProcessEnv): CheckConfig | 'help' {
  const v = parseFlags(argv, FLAGS);
  if (v.help) return 'help';
  return {
    hostRoot: parseHostRoot(v['host-root'] ?? '/'),
    execMode: parseExecMode(v['exec-mode'] ?? 'local'),
    role: parseRole(v.role ?? 'auto'),
    specFile: v.spec,
    registries: v.registries === undefined ? [...DEFAULT_REGISTRIES] : parseRegistries(v.registries),
    registryTimeoutMs: registryTimeout(v),
    // Validated now so a bad value fails before any probing; the host's name is only known after.
    nodeName: explicitNodeName({ flag: v['node-name'], env: env.NODE_NAME }),
    json: v.json ?? false,
  };
}

export async function run(argv: string[], io: CheckIo = process): Promise<number> {
  let config: CheckConfig | 'help';
  try {
    config = parseCheckArgs(argv, io.env);
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof NodeNameError)) throw e;
    io.stderr.write(
      `osmo-node-validator check: ${e.message}\nRun \`osmo-node-validator check --help\` for the options.\n`,
    );
    return 2;
  }
  if (config === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  // Host commands run in their own process groups, so a terminal's Ctrl-C does not reach them and the
  // default SIGINT death skips the exit hook: kill them here, then exit 128 + the signal's number.
  const onSignal = (signal: NodeJS.Signals) => {
    killAllHostProcesses();
    io.stderr.write(`osmo-node-validator check: interrupted (${signal})\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await checkHost(config, io);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function checkHost(config: CheckConfig, io: CheckIo): Promise<number> {
  // The spec first: a bad spec must not cost a probe run.
  let spec: Awaited<ReturnType<typeof loadSpec>>;
  try {
    spec = await loadSpec(config.specFile);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    io.stderr.write(`osmo-node-validator check: ${e.message}\n`);
    return 2;
  }

  const host = createHostContext({ root: config.hostRoot, execMode: config.execMode });
  const { facts, probeErrors } = await collectFacts(host, {
    registries: config.registries,
    registryTimeoutMs: config.registryTimeoutMs,
  });
  const collectedAt = new Date().toISOString();

  const role: RoleDecision =
    config.role === 'auto' ? roleFromFacts(facts) : { role: config.role, source: 'flag' };
  let node: string;
  try {
    node =
      config.nodeName ??
      resolveNodeName({
        hostnameFact: facts.hostname,
        hostnameError: probeErrors.find((e) => e.probe === 'hostname')?.message,
        hostRoot: config.hostRoot,
      });
  } catch (e) {
    if (!(e instanceof NodeNameError)) throw e;
    io.stderr.write(`osmo-node-validator check: ${e.message}\n`);
    return 2;
  }
  const result = evaluate({ node, facts, probeErrors, collectedAt }, spec, role);

  if (config.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
    io.stdout.write(
      renderTable(result, { color: io.stdout.isTTY === true && !noColor, roleReason: role.reason }),
    );
  }
  return result.checks.some((c) => c.status === 'fail' || c.status === 'error') ? 1 : 0;
}
