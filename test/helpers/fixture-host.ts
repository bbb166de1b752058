// Fixture hosts: directory trees under test/fixtures/hosts/<name>/ standing in for a node's root
// filesystem, with small #!/bin/sh fakes of nvidia-smi, containerd, uname, ... under usr/bin/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHostContext, type HostContext } from '../../agent/host.js';

export const FIXTURE_HOSTS = [
  'ubuntu2204-gpu-pass',
  'gpu-old-driver',
  'gpu-535-216-cuda-caveat',
  'gpu-driver-failure',
  'gpu-nvidia-smi-hangs',
  'jetson-jp62',
  'jetson-jp60',
  'containerd-2x',
  'rhel9',
  'operator-small-memory',
  'control-plane',
  'bare',
  'gpu-operator',
] as const;
export type FixtureHostName = (typeof FIXTURE_HOSTS)[number];

/** Absolute path of a fixture host's root directory. */
export function fixtureHostPath(name: FixtureHostName | string): string {
  const dir = fileURLToPath(new URL(`../fixtures/hosts/${name}`, import.meta.url));
  if (!existsSync(dir)) throw new Error(`no fixture host ${JSON.stringify(name)} at ${dir}`);
  return dir;
}

/** Absolute path of a real captured output: realFixturePath('nvidia-smi/nvidia-smi-q-x_...xml'). */
export function realFixturePath(relative: string): string {
  return fileURLToPath(new URL(`../fixtures/real/${relative}`, import.meta.url));
}

/** A HostContext on a fixture host in `local` exec mode with only its own commands. */
export function fixtureHostContext(name: FixtureHostName | string): HostContext {
  // No PATH fallback: a fixture host has exactly the commands it holds, whatever this machine has installed.
  return createHostContext({ root: fixtureHostPath(name), execMode: 'local', path: '' });
}
