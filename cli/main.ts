#!/usr/bin/env node
// Entry point of the `osmo-node-validator` binary. It only dispatches: each command's module is imported
// lazily, so `check` and `agent` never load fastify or the Kubernetes client.
// First: exits with "needs Node.js 24 or newer" on an older Node.js, before anything else is evaluated.
import './require-node.js';
import { versionText } from '../report/version.js';

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
    'Run `osmo-node-validator <command> --help` for the options of a command. `version`, `--version`',
    'and `<command> --version` print the version, the git revision it was built from and the Node.js version.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  // --version anywhere before a `--` asks for the version, whatever the command (its options unparsed).
  const beforeTerminator = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (name === 'version' || beforeTerminator.includes('--version') || name === '-v') {
    process.stdout.write(versionText());
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
