// `prune` against the Kubernetes API emulator: removes exactly what the validator owns, leaves everything
// else, writes nothing in --dry-run, is idempotent, retries a node that changed, reports failures.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeNames } from '../../aggregator/k8s/names.js';
import { runPrune } from '../../aggregator/prune-command.js';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';

const names = makeNames();
const P = names.labelPrefix;

let emulator: K8sEmulator;
let dir: string;
let kubeconfig: string;

beforeEach(async () => {
  emulator = await startK8sEmulator();
  dir = mkdtempSync(join(tmpdir(), 'onv-prune-'));
  kubeconfig = await emulator.writeKubeconfigFile(dir);
});

afterEach(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

async function prune(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPrune(['--kubeconfig', kubeconfig, ...args], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out, err };
}

function seed(): void {
  emulator.nodes.put(
    makeNode('gpu-1', {
      labels: {
        [names.labels.conformant]: 'false',
        [names.labels.role]: 'gpu',
        [names.labels.driverVersion]: '535.216.03',
        [`${P}custom-extra`]: 'x',
        [`${P}not-listed`]: 'keep-me',
        'node-type': 'gpu',
        'example.com/team': 'a',
      },
      annotations: {
        [names.annotations.managedLabels]: JSON.stringify([
          names.labels.conformant,
          names.labels.role,
          names.labels.driverVersion,
          `${P}custom-extra`,
          // A tampered entry outside the prefix must never be acted on.
          'node-type',
        ]),
        [names.annotations.managedTaints]: JSON.stringify([
          names.taintKey,
          'node-role.kubernetes.io/control-plane',
        ]),
        'example.com/owner': 'ops',
      },
      taints: [
        { key: 'example.com/dedicated', value: 'ml', effect: 'NoSchedule' },
        { key: names.taintKey, value: 'true', effect: 'NoSchedule', timeAdded: '2025-01-01T00:00:00Z' },
        { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
      ],
      conditions: [
        { type: names.conditionType, status: 'True', reason: 'BaselineNotMet', message: 'gpu.driver failed' },
        { type: 'example.com/Other', status: 'True', reason: 'Other', message: 'someone else' },
      ],
    }),
  );
  // Owned by the well-known names only (no annotations), e.g. an aggregator that died mid-write.
  emulator.nodes.put(
    makeNode('cpu-1', { labels: { [names.labels.conformant]: 'unknown', 'node-type': 'compute' } }),
  );
  emulator.nodes.put(makeNode('clean-1', { labels: { 'node-type': 'operator' } }));
}

type Node = {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string }[] };
};
const node = (name: string) => emulator.nodes.get(name) as unknown as Node;

describe('prune', () => {
  it('removes owned labels, taints, the condition and the annotations; leaves the rest', async () => {
    seed();
    const before = structuredClone(node('gpu-1'));
    const { code, out, err } = await prune();
    expect(err).toEqual([]);
    expect(code).toBe(0);

    const gpu = node('gpu-1');
    expect(gpu.metadata.labels).toEqual({
      ...before.metadata.labels,
      [names.labels.conformant]: undefined,
      [names.labels.role]: undefined,
      [names.labels.driverVersion]: undefined,
      [`${P}custom-extra`]: undefined,
    });
    expect(gpu.metadata.labels?.[`${P}not-listed`]).toBe('keep-me');
    expect(gpu.metadata.annotations?.['example.com/owner']).toBe('ops');
    expect(gpu.metadata.annotations?.[names.annotations.managedLabels]).toBeUndefined();
    expect(gpu.metadata.annotations?.[names.annotations.managedTaints]).toBeUndefined();
    expect(gpu.spec?.taints?.map((t) => t.key)).toEqual([
      'example.com/dedicated',
      'node-role.kubernetes.io/control-plane',
    ]);
    expect(gpu.status?.conditions?.map((c) => c.type)).toEqual([
      'MemoryPressure',
      'DiskPressure',
      'PIDPressure',
      'Ready',
      'example.com/Other',
    ]);

    expect(node('cpu-1').metadata.labels?.[names.labels.conformant]).toBeUndefined();
    expect(node('cpu-1').metadata.labels?.['node-type']).toBe('compute');
    expect(out).toContain('clean-1: nothing to remove');
    expect(out.find((l) => l.startsWith('gpu-1: removed'))).toContain(`condition ${names.conditionType}`);
    expect(out.at(-1)).toBe('pruned 2 of 3 nodes');
    // clean-1 was never written.
    expect(emulator.requestsBy('PATCH', /clean-1/)).toEqual([]);
  });

  it('--dry-run lists what it would remove and writes nothing', async () => {
    seed();
    const before = emulator.nodes.list();
    const { code, out } = await prune('--dry-run');
    expect(code).toBe(0);
    expect(emulator.writes()).toBe(0);
    expect(emulator.nodes.list()).toEqual(before);
    const gpuLine = out.find((l) => l.startsWith('gpu-1: would remove')) ?? '';
    expect(gpuLine).toContain(`taints ${names.taintKey};`);
    expect(gpuLine).not.toContain('node-type');
    expect(gpuLine).not.toContain('control-plane');
    expect(out.at(-1)).toBe('would prune 2 of 3 nodes');
  });

  it('is idempotent: a second run writes nothing', async () => {
    seed();
    expect((await prune()).code).toBe(0);
    emulator.reset();
    const second = await prune();
    expect(second.code).toBe(0);
    expect(emulator.writes()).toBe(0);
    expect(second.out.at(-1)).toBe('pruned 0 of 3 nodes');
  });

  it('re-reads and retries a node that changed underneath (409)', async () => {
    seed();
    emulator.conflictOnFirstTry(1);
    const { code } = await prune();
    expect(code).toBe(0);
    expect(node('gpu-1').status?.conditions?.some((c) => c.type === names.conditionType)).toBe(false);
    expect(node('gpu-1').spec?.taints?.some((t) => t.key === names.taintKey)).toBe(false);
  });

  it('a failed guard (422) is re-planned from a fresh read; foreign taints survive', async () => {
    seed();
    // The first metadata patch fails as a failed `test` would; the retry re-reads and sees the new taint.
    emulator.inject({ method: 'PATCH', path: '/api/v1/nodes/gpu-1', status: 422, times: 1 });
    emulator.nodes.mutate('gpu-1', (n) => {
      const spec = n['spec'] as { taints: unknown[] };
      spec.taints.unshift({ key: 'example.com/new', effect: 'NoExecute' });
    });
    const { code } = await prune();
    expect(code).toBe(0);
    expect(node('gpu-1').spec?.taints?.map((t) => t.key)).toEqual([
      'example.com/new',
      'example.com/dedicated',
      'node-role.kubernetes.io/control-plane',
    ]);
  });

  it('exits 1 when a node cannot be pruned, and still prunes the others', async () => {
    seed();
    emulator.inject({ method: 'PATCH', path: /^\/api\/v1\/nodes\/gpu-1/, status: 500, times: Infinity });
    const { code, err } = await prune();
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/gpu-1: FAILED \(HTTP 500/);
    expect(node('cpu-1').metadata.labels?.[names.labels.conformant]).toBeUndefined();
  });

  it('honours --label-prefix: another prefix owns nothing here', async () => {
    seed();
    const { code, out } = await prune(
      '--label-prefix',
      'other.example.com/',
      '--condition-prefix',
      'other.osmo.nvidia.com/',
    );
    expect(code).toBe(0);
    expect(emulator.writes()).toBe(0);
    expect(out.at(-1)).toBe('pruned 0 of 3 nodes');
  });

  it('exits 2 on bad arguments, 0 on --help', async () => {
    expect((await prune('--bogus')).code).toBe(2);
    expect((await prune('--label-prefix', 'kubernetes.io/')).code).toBe(2);
    expect((await prune('--condition-prefix', 'other.example.com/')).code).toBe(2);
    expect((await prune('extra-positional')).code).toBe(2);
    const help = await prune('--help');
    expect(help.code).toBe(0);
    expect(help.out.join('\n')).toContain('--dry-run');
    const none = await runPrune(['--kubeconfig', join(dir, 'missing')], { out: () => {}, err: () => {} });
    expect(none).toBe(2);
  });
});

describe('prune finds the cluster as kubectl does', () => {
  const run = (argv: string[], env: NodeJS.ProcessEnv) => {
    const out: string[] = [];
    const err: string[] = [];
    return runPrune(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env }).then((code) => ({
      code,
      out,
      err,
    }));
  };

  it('from KUBECONFIG (a list) and from ~/.kube/config, with --context choosing among contexts', async () => {
    emulator.nodes.put(makeNode('cpu-1'));
    const home = join(dir, 'home');
    const kube = join(home, '.kube');
    mkdirSync(kube, { recursive: true });
    copyFileSync(kubeconfig, join(kube, 'config'));
    const fromHome = await run(['--dry-run'], { HOME: home });
    expect(fromHome.code).toBe(0);
    expect(fromHome.out.at(-1)).toBe('would prune 0 of 1 nodes');
    const fromList = await run(['--dry-run', '--context', 'emulator'], {
      KUBECONFIG: `${join(dir, 'missing')}:${kubeconfig}`,
      HOME: dir,
    });
    expect(fromList.code).toBe(0);
    const unknown = await run(['--dry-run', '--context', 'prod'], { KUBECONFIG: kubeconfig, HOME: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/KUBECONFIG=.*--context prod: no such context/);
    const none = await run(['--dry-run'], { HOME: join(dir, 'nowhere') });
    expect(none.code).toBe(2);
    expect(none.err.join('\n')).toMatch(/set KUBECONFIG/);
  });
});
