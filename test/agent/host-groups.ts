// Finds the process groups of the `gpu-nvidia-smi-hangs` fixture's fake nvidia-smi (its child carries a
// marker in argv) started by one parent process, through /proc (Linux only, as the agent itself).
import { readdirSync, readFileSync } from 'node:fs';

export const HANG_MARKER = 'osmo-fixture-nvidia-smi-hang';

function stat(pid: string): { state: string; ppid: number; pgid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return null;
  }
}

const pids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d));

/** pgids of marker processes whose group leader (the fake nvidia-smi) is a child of `parentPid`. */
export function hungGroupsOf(parentPid: number): number[] {
  const groups = new Set<number>();
  for (const pid of pids()) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(HANG_MARKER)) continue;
    const own = stat(pid);
    if (own === null) continue;
    if (stat(String(own.pgid))?.ppid === parentPid) groups.add(own.pgid);
  }
  return [...groups];
}

/** Whether a process of the group still runs (a zombie waiting for its parent to reap it does not). */
export function groupAlive(pgid: number): boolean {
  return pids().some((pid) => {
    const s = stat(pid);
    return s !== null && s.pgid === pgid && s.state !== 'Z';
  });
}

/** Bounded polling (20 ms steps). */
export async function waitUntil(what: () => boolean, maxMs: number): Promise<boolean> {
  for (let waited = 0; waited < maxMs && !what(); waited += 20) await new Promise((r) => setTimeout(r, 20));
  return what();
}

/** Test cleanup: never leave a fixture's sleep 600 behind, whatever the outcome. */
export function killGroups(pgids: readonly number[]): void {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
