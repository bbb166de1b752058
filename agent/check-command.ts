// `osmo-node-validator check`: probe this host once, evaluate it against the spec (built-in baseline or
// --spec; --checks/--skip-checks select its checks), print a table, one JSON document or JUnit XML. Exit 0: no check failed (warnings allowed); 1: a check is
// fail or error; 2: the check could not run (bad arguments, unreadable or malformed spec).
// Imports stay light: no fastify, pino or Kubernetes client on this path.
import type { Role } from '../report/constants.js';
import { helpText } from '../report/flag-help.js';
import { parseFlagTable } from '../report/flag-table.js';
import { UsageError } from '../report/usage-error.js';
import type { RoleDecision } from '../spec/api.js';
import { evaluate } from '../spec/evaluate.js';
import { loadSpec, SpecError } from '../spec/load.js';
import { roleForHost } from '../spec/role.js';
import type { Spec } from '../spec/spec-types.js';
import { type OutputFormat, renderJson, renderJunit } from './check-output.js';
import { collectFacts } from './collect.js';
import { createHostContext, type ExecMode, killAllHostProcesses } from './host.js';
import { NodeNameError, resolveNodeName } from './node-name.js';
import { CHECK_FLAGS } from './options.js';
import { renderTable } from './render.js';

const USAGE = helpText(CHECK_FLAGS, {
  usage: 'osmo-node-validator check [options]',
  about:
    'Probes this host once, evaluates it against the OSMO on-prem baseline (or --spec) and prints the result.',
  footer:
    'Exit status: 0 no check failed (warnings allowed), 1 a check failed or errored, 2 the check could not run.',
});

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
  /** --osmo-url / OSMO_VALIDATOR_OSMO_URL; null: not probed (osmo.reachable is skip). */
  osmoUrl: string | null;
  /** From --node-name or NODE_NAME; null: from the host's hostname once probed. */
  nodeName: string | null;
  output: OutputFormat;
  /** --checks: only these ids; undefined: all. */
  onlyChecks: string[] | undefined;
  /** --skip-checks: these ids left out. */
  skipChecks: string[];
}

function parseCheckArgs(argv: string[], env: NodeJS.ProcessEnv): CheckConfig | 'help' {
  // Everything is checked now, --node-name / NODE_NAME included, so a bad value fails before any probing.
  const v = parseFlagTable(CHECK_FLAGS, argv, env);
  if (v === 'help') return 'help';
  return {
    hostRoot: v['host-root'],
    execMode: v['exec-mode'],
    role: v.role,
    specFile: v.spec,
    registries: v.registries,
    registryTimeoutMs: v['registry-timeout'],
    osmoUrl: v['osmo-url'] ?? null,
    nodeName: v['node-name'] ?? null,
    output: outputFormat(v.output, v.json),
    onlyChecks: v.checks,
    skipChecks: v['skip-checks'] ?? [],
  };
}

/** --output, with --json as its alias for `--output json`. */
function outputFormat(output: OutputFormat | undefined, json: boolean): OutputFormat {
  if (json && output !== undefined && output !== 'json') {
    throw new UsageError(`--json is --output json: it contradicts --output ${output}`);
  }
  return json ? 'json' : (output ?? 'table');
}

/** The spec with only the checks --checks/--skip-checks select; an id the spec lacks is a UsageError. */
export function selectChecks(spec: Spec, only: string[] | undefined, skip: string[]): Spec {
  const known = new Set(spec.checks.map((c) => c.id));
  for (const [flag, ids] of [
    ['--checks', only ?? []],
    ['--skip-checks', skip],
  ] as const) {
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new UsageError(
        `${flag}: no check ${unknown.map((id) => JSON.stringify(id)).join(', ')} in spec ${spec.metadata.name}; ` +
          `its checks are ${[...known].join(', ')}`,
      );
    }
  }
  const selected = (id: string) => (only === undefined || only.includes(id)) && !skip.includes(id);
  return { ...spec, checks: spec.checks.filter((c) => selected(c.id)) };
}

export async function run(argv: string[], io: CheckIo = process): Promise<number> {
  let config: CheckConfig | 'help';
  try {
    config = parseCheckArgs(argv, io.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
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
  let spec: Spec;
  try {
    spec = selectChecks(await loadSpec(config.specFile), config.onlyChecks, config.skipChecks);
  } catch (e) {
    if (!(e instanceof SpecError) && !(e instanceof UsageError)) throw e;
    io.stderr.write(`osmo-node-validator check: ${e.message}\n`);
    return 2;
  }

  const host = createHostContext({ root: config.hostRoot, execMode: config.execMode });
  const { facts, probeErrors } = await collectFacts(host, {
    registries: config.registries,
    registryTimeoutMs: config.registryTimeoutMs,
    osmoUrl: config.osmoUrl,
  });
  const collectedAt = new Date().toISOString();

  const role: RoleDecision =
    config.role === 'auto' ? roleForHost(facts) : { role: config.role, source: 'flag' };
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

  if (config.output === 'json') {
    io.stdout.write(renderJson(result));
  } else if (config.output === 'junit') {
    io.stdout.write(renderJunit(result));
  } else {
    const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
    io.stdout.write(
      renderTable(result, { color: io.stdout.isTTY === true && !noColor, roleReason: role.reason }),
    );
  }
  return result.checks.some((c) => c.status === 'fail' || c.status === 'error') ? 1 : 0;
}
