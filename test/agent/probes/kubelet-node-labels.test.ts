// The kubelet's --node-labels as systemd assembles its command line, from the unit, its drop-ins and
// their environment files; fixture trees in test/fixtures/kubelet/.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import {
  expandCommand,
  mergeNodeLabels,
  nodeLabelFlags,
  parseEnvironmentFile,
  parseUnitFile,
  readKubeletNodeLabels,
  splitWords,
} from '../../../agent/probes/kubelet-node-labels.js';

const treePath = (name: string) => fileURLToPath(new URL(`../../fixtures/kubelet/${name}`, import.meta.url));
const tree = (name: string) => createHostContext({ root: treePath(name), execMode: 'local', path: '' });

describe('parsers', () => {
  it('splitWords: quotes group, backslash escapes', () => {
    expect(splitWords(`a "b c" 'd "e"' f\\ g ""`)).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
  });

  it('parseEnvironmentFile: kubeadm-flags.env and /etc/default/kubelet as written', () => {
    const vars = parseEnvironmentFile(
      [
        '# comment',
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-labels=node-type=gpu"',
        'KUBELET_EXTRA_ARGS=',
        "QUOTED='--node-labels=a=b'",
        'CONTINUED=--a \\',
        '  --b',
        '; another comment',
      ].join('\n'),
    );
    expect(Object.fromEntries(vars)).toEqual({
      KUBELET_KUBEADM_ARGS:
        '--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-labels=node-type=gpu',
      KUBELET_EXTRA_ARGS: '',
      QUOTED: '--node-labels=a=b',
      CONTINUED: '--a    --b',
    });
  });

  it('parseUnitFile: only [Service]; empty assignments are resets', () => {
    const unit = parseUnitFile(
      [
        '[Unit]',
        'Environment="IGNORED=1"',
        '[Service]',
        'Environment="A=1 2" B=3',
        'Environment=',
        'EnvironmentFile=-/etc/default/kubelet',
        'EnvironmentFile=/etc/x',
        'ExecStart=',
        'ExecStart=/usr/bin/kubelet $A',
      ].join('\n'),
    );
    expect(unit).toEqual({
      environment: [['A', '1 2'], ['B', '3'], null],
      environmentFiles: [
        { path: '/etc/default/kubelet', optional: true },
        { path: '/etc/x', optional: false },
      ],
      execStart: [null, '/usr/bin/kubelet $A'],
    });
  });

  it('expandCommand: $VAR splits into words, a braced VAR stays one word, each word keeps its origin', () => {
    const braced = '$' + '{L}'; // systemd's syntax, not a JS template
    const vars = new Map([
      ['ARGS', { value: '--node-labels=node-type=gpu --v=2', file: '/var/lib/kubelet/kubeadm-flags.env' }],
      ['L', { value: 'a=b', file: '/etc/default/kubelet' }],
    ]);
    const words = expandCommand(
      `/usr/bin/kubelet $ARGS --node-labels=x=${braced} $UNSET`,
      '/unit.conf',
      vars,
    );
    expect(words).toEqual([
      { word: '/usr/bin/kubelet', file: '/unit.conf', variable: null },
      { word: '--node-labels=node-type=gpu', file: '/var/lib/kubelet/kubeadm-flags.env', variable: 'ARGS' },
      { word: '--v=2', file: '/var/lib/kubelet/kubeadm-flags.env', variable: 'ARGS' },
      { word: '--node-labels=x=a=b', file: '/etc/default/kubelet', variable: 'L' },
    ]);
  });

  it('nodeLabelFlags + mergeNodeLabels: both flag forms; repeated flags merge, a later key wins', () => {
    const w = (word: string, file = '/f') => ({ word, file, variable: null });
    const flags = nodeLabelFlags([
      w('--node-labels=node-type=compute,zone=a', '/first'),
      w('--node-labels'),
      w('node-type=gpu', '/second'),
      w('--node-labelsX=ignored'),
    ]);
    expect(flags.map((f) => f.value)).toEqual(['node-type=compute,zone=a', 'node-type=gpu']);
    expect(mergeNodeLabels(flags)).toEqual({
      labels: { 'node-type': 'gpu', zone: 'a' },
      nodeType: { value: 'gpu', file: '/second' },
    });
    expect(mergeNodeLabels([{ value: 'node.kubernetes.io/node=', file: '/f', variable: null }])).toEqual({
      labels: { 'node.kubernetes.io/node': '' },
      nodeType: null,
    });
  });
});

describe('readKubeletNodeLabels on fixture trees', () => {
  it('kubeadm (DEB): node-type from kubeadm-flags.env', async () => {
    const r = await readKubeletNodeLabels(tree('kubeadm-deb-flags-env'));
    expect(r).toEqual({
      commandFrom: 'systemd-unit',
      flags: [
        {
          value: 'node-type=gpu',
          file: '/var/lib/kubelet/kubeadm-flags.env',
          variable: 'KUBELET_KUBEADM_ARGS',
        },
      ],
      labels: { 'node-type': 'gpu' },
      nodeType: { value: 'gpu', file: '/var/lib/kubelet/kubeadm-flags.env' },
    });
  });

  it('kubeadm (RPM): node-type from /etc/sysconfig/kubelet', async () => {
    const r = await readKubeletNodeLabels(tree('kubeadm-rpm-sysconfig'));
    expect(r?.nodeType).toEqual({ value: 'operator', file: '/etc/sysconfig/kubelet' });
    expect(r?.flags).toEqual([
      { value: 'node-type=operator', file: '/etc/sysconfig/kubelet', variable: 'KUBELET_EXTRA_ARGS' },
    ]);
  });

  it("an admin's drop-in setting KUBELET_EXTRA_ARGS (no /etc/default/kubelet)", async () => {
    const r = await readKubeletNodeLabels(tree('dropin-extra-args'));
    expect(r?.nodeType).toEqual({
      value: 'compute',
      file: '/etc/systemd/system/kubelet.service.d/20-node-labels.conf',
    });
    expect(r?.labels).toEqual({ 'node-type': 'compute', 'osmo.nvidia.com/node-pool': 'compute' });
  });

  it('a later drop-in replacing ExecStart decides, even though kubeadm-flags.env says otherwise', async () => {
    const r = await readKubeletNodeLabels(tree('dropin-execstart'));
    expect(r?.nodeType).toEqual({
      value: 'jetson',
      file: '/etc/systemd/system/kubelet.service.d/20-jetson.conf',
    });
    expect(r?.flags).toHaveLength(1);
  });

  it("no kubelet unit under the root: kubeadm's files in its drop-in's order", async () => {
    const r = await readKubeletNodeLabels(tree('flags-env-only'));
    expect(r).toMatchObject({
      commandFrom: 'kubeadm-files',
      nodeType: { value: 'operator', file: '/var/lib/kubelet/kubeadm-flags.env' },
    });
  });
});

describe('readKubeletNodeLabels: systemd precedence on altered copies', () => {
  const temps: string[] = [];
  afterAll(async () => {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });
  async function copyOf(name: string): Promise<string> {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-kubelet-'));
    temps.push(root);
    await cp(treePath(name), root, { recursive: true });
    return root;
  }
  const host = (root: string) => createHostContext({ root, execMode: 'local', path: '' });

  it('EnvironmentFile= overrides Environment=: an empty KUBELET_EXTRA_ARGS in /etc/default/kubelet wins', async () => {
    const root = await copyOf('dropin-extra-args');
    await mkdir(path.join(root, 'etc/default'), { recursive: true });
    await writeFile(path.join(root, 'etc/default/kubelet'), 'KUBELET_EXTRA_ARGS=\n');
    const r = await readKubeletNodeLabels(host(root));
    expect(r?.nodeType).toBeNull();
    expect(r?.flags).toEqual([]);
  });

  it('a drop-in in /etc replaces the one of the same name in /usr/lib', async () => {
    const root = await copyOf('kubeadm-deb-flags-env');
    const usr = await readFile(
      path.join(root, 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'),
      'utf8',
    );
    await cp(
      path.join(root, 'usr/lib/systemd/system/kubelet.service.d'),
      path.join(root, 'etc/systemd/system/kubelet.service.d'),
      {
        recursive: true,
      },
    );
    await writeFile(
      path.join(root, 'etc/systemd/system/kubelet.service.d/10-kubeadm.conf'),
      usr.replace('$KUBELET_KUBEADM_ARGS ', '--node-labels=node-type=compute '),
    );
    const r = await readKubeletNodeLabels(host(root));
    expect(r?.nodeType).toEqual({
      value: 'compute',
      file: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
    });
  });

  it('nothing about a kubelet on the host → null', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-kubelet-'));
    temps.push(root);
    expect(await readKubeletNodeLabels(host(root))).toBeNull();
  });
});
