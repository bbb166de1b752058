// Peak resident memory of one `check --json` (the built CLI, the DaemonSet's V8 flags and environment) on
// a host where every bounded read of a cycle is at its cap at once (test/helpers/oversize-host.ts, the
// host test/reliability/largest-inputs.test.ts holds to "no V8 abort").
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AGENT_CAPS, writeOversizeHost } from '../../test/helpers/oversize-host.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../test/manifests/expected-args.js';
import { CLI, memoryOf, sleep, spawnChild } from '../lib/proc.js';

export interface OversizeCheck {
  hwmKiB: number;
  exitCode: number | null;
  /** true when V8 aborted (out of heap). */
  aborted: boolean;
  probeErrors: string[];
}

/** `check --json` under `nodeFlags` (default: the DaemonSet's) on the oversize host. */
export async function oversizeCheckPeak(nodeFlags: string[] = AGENT_NODE_FLAGS): Promise<OversizeCheck> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-agent-oversize-'));
  try {
    const root = await writeOversizeHost(dir, AGENT_CAPS);
    const child = spawnChild(
      [...nodeFlags, CLI, 'check', '--json', '--host-root', root, '--registries', 'none'],
      { env: { ...AGENT_ENV, NODE_OPTIONS: '' } },
    );
    let hwmKiB = 0;
    let done = false;
    void child.exited.then(() => {
      done = true;
    });
    for (let i = 0; i < 20_000 && !done; i++) {
      const m = memoryOf(child.pid);
      if (m !== null && Number.isFinite(m.hwmKiB)) hwmKiB = Math.max(hwmKiB, m.hwmKiB);
      await sleep(3);
    }
    const exitCode = await child.exited;
    let probeErrors: string[] = [];
    try {
      const out = JSON.parse(child.stdout()) as { probeErrors: Array<{ probe: string; kind: string }> };
      probeErrors = out.probeErrors.map((e) => `${e.probe} (${e.kind})`);
    } catch {
      probeErrors = ['no report'];
    }
    return { hwmKiB, exitCode, aborted: /heap out of memory/.test(child.stderr()), probeErrors };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
