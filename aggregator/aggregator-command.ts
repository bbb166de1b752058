// The `aggregator` command: reads and checks its configuration (config.ts, from the flag table in
// options.ts), then hands it to the composition root (main.ts), which builds the services, runs them
// and shuts them down on SIGTERM/SIGINT.
import { helpText } from '../report/flag-help.js';
import { UsageError } from '../report/usage-error.js';
import { type AggregatorConfig, readAggregatorConfig } from './config.js';
import { type RunHooks, runAggregator } from './main.js';
import { AGGREGATOR_FLAGS } from './options.js';

export type { RunHooks };

export function usage(): string {
  return helpText(AGGREGATOR_FLAGS, {
    usage: 'osmo-node-validator aggregator [options]',
    about: `The central service: receives agents' reports, evaluates them against the spec, serves the REST API
(/api/v1/..., /metrics, /openapi.json, /docs) and, with a Kubernetes configuration, reconciles node labels,
taints and the BaselineNotMet condition.`,
    footer: `Every option can also be set in its environment variable: OSMO_VALIDATOR_ + the flag name in upper
case with underscores (a switch takes true/false, 1/0 or yes/no); a flag on the command line wins.
Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the service fails after starting,
2 for bad options or an unreadable spec, token file or certificate.`,
  });
}

export async function run(argv: string[], hooks: RunHooks = {}): Promise<number> {
  let config: AggregatorConfig | 'help';
  try {
    config = readAggregatorConfig(argv, hooks.env ?? process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const stderr = hooks.stderr ?? ((t: string) => void process.stderr.write(t));
    stderr(`osmo-node-validator aggregator: ${err.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (config === 'help') {
    (hooks.stdout ?? ((t: string) => void process.stdout.write(t)))(usage());
    return 0;
  }
  return runAggregator(config, hooks);
}
