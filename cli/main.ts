#!/usr/bin/env node
// Entry point of the `osmo-node-validator` binary. It only dispatches: each command's module is imported
// lazily, so `check` and `agent` never load fastify or the Kubernetes client.
// First: exits with "needs Node.js 24 or newer" on an older Node.js, before anything else is evaluated.
import './require-node.js';
import { packageVersion } from '../report/version.js';

type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  check: {
    summary: 'probe this host once, evaluate it against the spec, print the result',
    load: () => import('../agent/check-command.js'),
  },
  agent: {
    summary: "the DaemonSet's long-running mode: probe on a schedule and on change, report to the aggregator",
    load: () => import('../agent/agent-command.js'),
  },
  aggregator: {
    summary: 'the central service: REST API, evaluation, Kubernetes reconciliation',
    load: () => import('../aggregator/aggregator-command.js'),
  },
  prune: {
    summary: 'remove from every node what the validator owns (labels, taints, condition, annotations)',
    load: () => import('../aggregator/prune-command.js'),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`);
  return [
    'Usage: osmo-node-validator <command> [options]',
    '',
    'Validates Kubernetes nodes against the NVIDIA OSMO on-premises backend baseline.',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `osmo-node-validator <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`osmo-node-validator: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `osmo-node-validator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 2;
  },
);
