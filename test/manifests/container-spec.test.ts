// scripts/container-spec.ts without a container engine: the run flags it derives from the rendered
// manifests, and that differences() notices each way a running container can deviate from them.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ContainerRun,
  containerRunOf,
  differences,
  type Expected,
  engineFlags,
  expectedArgv,
  type Observed,
  quantityBytes,
} from '../../scripts/container-spec.js';
import {
  AGENT_ARGS,
  AGENT_COMMAND,
  AGGREGATOR_ARGS,
  AGGREGATOR_COMMAND,
  AGGREGATOR_ENV,
  IMAGE_CLI,
} from './expected-args.js';
import { type K8sObject, renderKustomization } from './kustomize.js';

const objects = renderKustomization(join(import.meta.dirname, '..', '..', 'manifests'));
const workload = (kind: string) => objects.find((o) => o.kind === kind) as K8sObject;
const aggregator = containerRunOf(workload('Deployment'));
const agent = containerRunOf(workload('DaemonSet'));
const image = { entrypoint: ['node', IMAGE_CLI], cmd: [] };
const FULL_CAPS = '000001ffffffffff';

function bindings(extra: Partial<Parameters<typeof engineFlags>[1]> = {}): Parameters<typeof engineFlags>[1] {
  return {
    engine: 'podman',
    name: 'c',
    image: 'img',
    volumeDirs: { spec: '/tmp/spec', token: '/tmp/token', ca: '/tmp/ca' },
    fields: { 'spec.nodeName': 'n1', 'metadata.name': 'p', 'metadata.namespace': 'ns', 'metadata.uid': 'u' },
    network: [],
    extraArgs: [],
    ...extra,
  };
}

/** Adjacent flag/value pairs of an argument list. */
function pairs(flags: string[]): string[] {
  return flags.slice(0, -1).map((f, i) => `${f} ${flags[i + 1]}`);
}

describe('containerRunOf + engineFlags', () => {
  it('the aggregator: uid/gid 10001, read-only root, no capabilities, no escalation, seccomp, limits', () => {
    expect(aggregator).toMatchObject({
      uid: 10001,
      gid: 10001,
      privileged: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capDrop: ['ALL'],
      seccomp: 'RuntimeDefault',
      memoryLimitBytes: 512 * 2 ** 20,
      env: AGGREGATOR_ENV,
    });
    const flags = engineFlags(aggregator, bindings(), image);
    const p = pairs(flags);
    for (const want of [
      '--user 10001:10001',
      '--security-opt no-new-privileges',
      '--cap-drop ALL',
      `--memory ${512 * 2 ** 20}`,
      `--env NODE_OPTIONS=${AGGREGATOR_ENV['NODE_OPTIONS']}`,
      '--env POD_NAMESPACE=ns',
      '--volume /tmp/spec:/etc/osmo-node-validator:ro',
      `--tmpfs /tmp:rw,mode=1777,size=${64 * 2 ** 20}`,
    ]) {
      expect(p, want).toContain(want);
    }
    expect(flags).toContain('--read-only');
    expect(flags).toContain('--read-only-tmpfs=false');
    expect(flags).not.toContain('--privileged');
    expect(flags.slice(flags.indexOf('--entrypoint'))).toEqual([
      '--entrypoint',
      'node',
      'img',
      ...AGGREGATOR_COMMAND.slice(1),
      ...AGGREGATOR_ARGS,
    ]);
  });

  it('the agent: privileged root, the host read-only at /host (slave), its command with the V8 flags', () => {
    expect(agent).toMatchObject({
      uid: 0,
      privileged: true,
      allowPrivilegeEscalation: true,
      seccomp: 'Unconfined',
    });
    const flags = engineFlags(agent, bindings({ engine: 'docker' }), image);
    const p = pairs(flags);
    expect(flags).toContain('--privileged');
    expect(p).toContain('--user 0');
    expect(p).toContain('--volume /:/host:ro,rslave');
    expect(p).toContain('--env NODE_NAME=n1');
    expect(p).toContain('--volume /tmp/token:/var/run/secrets/osmo-node-validator:ro');
    expect(flags).not.toContain('--read-only-tmpfs=false');
    expect(expectedArgv(agent, image, [])).toEqual([...AGENT_COMMAND, ...AGENT_ARGS]);
    expect(flags.slice(flags.indexOf('--entrypoint'))).toEqual([
      '--entrypoint',
      'node',
      'img',
      ...AGENT_COMMAND.slice(1),
      ...AGENT_ARGS,
    ]);
  });

  it('refuses what it cannot reproduce instead of dropping it', () => {
    expect(() => engineFlags(aggregator, bindings({ volumeDirs: {} }), image)).toThrow(/volume spec/);
    expect(() => engineFlags(agent, bindings({ fields: {} }), image)).toThrow(/spec.nodeName/);
    expect(() => quantityBytes('1.5Gi')).toThrow();
    expect(quantityBytes('128Mi')).toBe(128 * 2 ** 20);
  });
});

describe('differences', () => {
  const nul = (xs: string[]) => `${xs.join('\0')}\0`;
  const status = (o: Partial<Record<string, string>> = {}) =>
    Object.entries({
      Uid: '10001\t10001\t10001\t10001',
      Gid: '10001\t10001\t10001\t10001',
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
      CapBnd: '0000000000000000',
      NoNewPrivs: '1',
      Seccomp: '2',
      ...o,
    })
      .map(([k, v]) => `${k}:\t${v}`)
      .join('\n');
  const mountinfo = [
    '1 0 0:1 / / ro,relatime - overlay overlay rw',
    '2 1 0:2 / /etc/osmo-node-validator ro,relatime - ext4 /dev/vda rw',
    '3 1 0:3 / /tmp rw,nosuid - tmpfs tmpfs rw',
  ].join('\n');
  const argv = expectedArgv(aggregator, image, []);
  const env = { ...AGGREGATOR_ENV, POD_NAME: 'p', POD_NAMESPACE: 'ns', POD_UID: 'u' };
  const good: Observed = {
    status: status(),
    cmdline: nul(argv),
    environ: nul(['PATH=/usr/bin', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)]),
    mountinfo,
    resolved: {},
    rootWritable: false,
    writableMounts: ['/tmp'],
    memoryLimit: String(512 * 2 ** 20),
  };
  const want: Expected = { argv, env, hostCapBnd: FULL_CAPS, hostShared: () => true };

  it('none when the container runs as the manifests say', () => {
    expect(differences(aggregator, good, want)).toEqual([]);
  });

  it.each<[string, Partial<Observed>, RegExp]>([
    ['another user', { status: status({ Uid: '0\t0\t0\t0' }) }, /^uid/],
    ['another group', { status: status({ Gid: '0\t0\t0\t0' }) }, /^gid/],
    ['capabilities kept', { status: status({ CapEff: FULL_CAPS }) }, /^CapEff/],
    ['escalation allowed', { status: status({ NoNewPrivs: '0' }) }, /^no_new_privs/],
    ['no seccomp filter', { status: status({ Seccomp: '0' }) }, /^seccomp/],
    ['a writable root', { rootWritable: true }, /^root filesystem/],
    ['a missing V8 flag', { environ: nul(['MALLOC_ARENA_MAX=2']) }, /^env NODE_OPTIONS/],
    ['other arguments', { cmdline: nul([...argv, '--dry-run']) }, /^argv/],
    [
      'the spec mounted read-write',
      { mountinfo: mountinfo.replace('validator ro,', 'validator rw,') },
      /read-only/,
    ],
    ['/tmp not writable', { writableMounts: [] }, /\/tmp writable/],
    ['a mount missing', { mountinfo: mountinfo.split('\n').slice(0, 2).join('\n') }, /\/tmp: missing/],
    ['no memory limit', { memoryLimit: 'max' }, /^memory limit/],
  ])('notices %s', (_what, change, pattern) => {
    const diffs = differences(aggregator, { ...good, ...change }, want);
    expect(diffs.length, diffs.join('\n')).toBeGreaterThan(0);
    expect(
      diffs.some((d) => pattern.test(d)),
      diffs.join('\n'),
    ).toBe(true);
  });

  it('a privileged container must hold every capability of the host; a slave mount where the host shares', () => {
    const agentRun: ContainerRun = agent;
    const agentArgv = expectedArgv(agent, image, []);
    const agentMounts = [
      '1 0 0:1 / / rw - overlay overlay rw',
      '2 1 0:2 / /host ro,relatime master:1 - ext4 /dev/vda rw',
      '3 1 0:3 / /run/secrets/osmo-node-validator ro - ext4 /dev/vda rw',
      '4 1 0:4 / /etc/osmo-node-validator/ca ro - ext4 /dev/vda rw',
    ].join('\n');
    const observed: Observed = {
      status: status({
        Uid: '0\t0\t0\t0',
        Gid: '0\t0\t0\t0',
        CapPrm: FULL_CAPS,
        CapEff: FULL_CAPS,
        CapBnd: FULL_CAPS,
        NoNewPrivs: '0',
        Seccomp: '0',
      }),
      cmdline: nul(agentArgv),
      environ: nul(['MALLOC_ARENA_MAX=2', 'NODE_NAME=n1']),
      mountinfo: agentMounts,
      resolved: { '/var/run/secrets/osmo-node-validator': '/run/secrets/osmo-node-validator' },
      rootWritable: true,
      writableMounts: [],
      memoryLimit: String(128 * 2 ** 20),
    };
    const agentWant: Expected = {
      argv: agentArgv,
      env: { MALLOC_ARENA_MAX: '2', NODE_NAME: 'n1' },
      hostCapBnd: FULL_CAPS,
      hostShared: () => true,
    };
    expect(differences(agentRun, observed, agentWant)).toEqual([]);
    const fewer = {
      ...observed,
      status: observed.status.replace(`CapEff:\t${FULL_CAPS}`, 'CapEff:\t00000000a80425fb'),
    };
    expect(differences(agentRun, fewer, agentWant).join()).toMatch(/CapEff/);
    const privateMount = { ...observed, mountinfo: agentMounts.replace(' master:1', '') };
    expect(differences(agentRun, privateMount, agentWant).join()).toMatch(/receives host mounts/);
    // On a host whose / is not shared no engine can make the mount a slave: not counted as a difference.
    expect(differences(agentRun, privateMount, { ...agentWant, hostShared: () => false })).toEqual([]);
  });
});
