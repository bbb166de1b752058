// The one interface every probe implements. A probe reads the host through a HostContext (never the
// agent's own container), returns its facts, or throws a ProbeFailure (agent/probe-failure.ts); the
// collector bounds it with a timeout so one slow or broken probe never hides the others.
import type { ProbeName } from '../../report/constants.js';
import type { HostContext } from '../host.js';

export interface ProbeOptions {
  /** Registry hosts (`host[:port]`) to probe; `null` = skipped (`--registries none`). */
  registries: string[] | null;
  /** Per-registry request timeout. */
  registryTimeoutMs: number;
  /** A CA file (this machine's, PEM) trusted for every registry on top of Node's roots and the host's bundle. */
  registryCaFile?: string | undefined;
  /** The OSMO service's URL (--osmo-url), probed within registryTimeoutMs; absent or null: not probed. */
  osmoUrl?: string | null | undefined;
}

export interface Probe<K extends ProbeName = ProbeName, T = unknown> {
  name: K;
  /** Upper bound for the whole probe; the collector aborts it after this. */
  timeoutMs: number;
  run(host: HostContext, options: ProbeOptions, signal: AbortSignal): Promise<T>;
}
