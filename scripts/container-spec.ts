// What a container of the rendered manifests means for a container engine (docker or podman): the `run`
// flags that reproduce its user, privileges, root filesystem, capabilities, seccomp, command, environment,
// mounts and memory limit, and the properties its process must then show in /proc (uid, gid,
// capabilities, no_new_privs, seccomp mode, argv, environment, mounts, cgroup memory limit). Used by
// scripts/image-smoke.ts; pure, so test/manifests/container-spec.test.ts checks it without an engine.
import { containersOf, isObj, type K8sObject, type Obj, podSpecOf } from '../test/manifests/kustomize.js';

export type Engine = 'docker' | 'podman';

export type VolumeSource =
  | { kind: 'hostPath'; path: string }
  | { kind: 'configMap'; name: string; items: Array<{ key: string; path: string }> | undefined }
  | { kind: 'secret'; name: string }
  | { kind: 'serviceAccountToken'; audience: string; path: string }
  | { kind: 'emptyDir'; sizeLimit: string | undefined };

export interface Mount {
  path: string;
  readOnly: boolean;
  /** HostToContainer propagation (a slave mount: later host mounts show up). */
  hostToContainer: boolean;
  volume: string;
  source: VolumeSource;
}

export interface ContainerRun {
  workload: string;
  container: string;
  uid: number | undefined;
  gid: number | undefined;
  privileged: boolean;
  readOnlyRootFilesystem: boolean;
  allowPrivilegeEscalation: boolean;
  capDrop: string[];
  capAdd: string[];
  seccomp: 'RuntimeDefault' | 'Unconfined';
  hostNetwork: boolean;
  command: string[] | undefined;
  args: string[] | undefined;
  /** Literal environment values. */
  env: Record<string, string>;
  /** Environment from the downward API: variable -> fieldPath. */
  fieldEnv: Record<string, string>;
  mounts: Mount[];
  memoryLimitBytes: number | undefined;
}

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

const QUANTITY = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const FACTORS: Record<string, number> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** A Kubernetes memory quantity in bytes (the forms the manifests use). */
export function quantityBytes(q: string): number {
  const m = QUANTITY.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  return Number(m[1]) * (FACTORS[m[2] ?? ''] as number);
}

function volumeSource(volume: Obj, where: string): VolumeSource {
  if (isObj(volume['hostPath'])) return { kind: 'hostPath', path: String(volume['hostPath']['path']) };
  if (isObj(volume['configMap'])) {
    const cm = volume['configMap'];
    const items = Array.isArray(cm['items'])
      ? arr(cm['items']).map((i) => ({ key: String(i['key']), path: String(i['path']) }))
      : undefined;
    return { kind: 'configMap', name: String(cm['name']), items };
  }
  if (isObj(volume['secret'])) return { kind: 'secret', name: String(volume['secret']['secretName']) };
  if (isObj(volume['emptyDir'])) {
    const size = volume['emptyDir']['sizeLimit'];
    return { kind: 'emptyDir', sizeLimit: typeof size === 'string' ? size : undefined };
  }
  const sources = arr(obj(volume['projected'])['sources']);
  const token = obj(sources[0]?.['serviceAccountToken']);
  if (sources.length === 1 && typeof token['path'] === 'string') {
    return { kind: 'serviceAccountToken', audience: String(token['audience']), path: token['path'] };
  }
  throw new Error(`${where}: volume ${String(volume['name'])} is of a kind this script does not reproduce`);
}

/** The one container of a workload (Deployment, DaemonSet, Job) as the engine must run it. */
export function containerRunOf(workload: K8sObject): ContainerRun {
  const pod = podSpecOf(workload);
  if (!pod) throw new Error(`${workload.kind} ${workload.metadata.name}: no pod template`);
  const containers = containersOf(pod);
  if (containers.length !== 1) throw new Error(`${workload.metadata.name}: expected one container`);
  const c = containers[0] as Obj;
  const podSc = obj(pod['securityContext']);
  const sc = obj(c['securityContext']);
  const pick = (k: string) => (sc[k] !== undefined ? sc[k] : podSc[k]);
  const privileged = sc['privileged'] === true;
  const seccompType = obj(sc['seccompProfile'])['type'] ?? obj(podSc['seccompProfile'])['type'];
  const env: Record<string, string> = {};
  const fieldEnv: Record<string, string> = {};
  for (const e of arr(c['env'])) {
    if (typeof e['value'] === 'string') env[String(e['name'])] = e['value'];
    else {
      // An optional ConfigMap key (the agent's OSMO_VALIDATOR_OSMO_URL) is reproduced as a cluster
      // without that ConfigMap: unset.
      if (obj(obj(e['valueFrom'])['configMapKeyRef'])['optional'] === true) continue;
      const path = obj(obj(e['valueFrom'])['fieldRef'])['fieldPath'];
      if (typeof path !== 'string') throw new Error(`env ${String(e['name'])}: only fieldRef is reproduced`);
      fieldEnv[String(e['name'])] = path;
    }
  }
  const volumes = arr(pod['volumes']);
  const mounts = arr(c['volumeMounts']).map((m): Mount => {
    const volume = volumes.find((v) => v['name'] === m['name']);
    if (!volume) throw new Error(`mount ${String(m['name'])}: no such volume`);
    return {
      path: String(m['mountPath']),
      readOnly: m['readOnly'] === true,
      hostToContainer: m['mountPropagation'] === 'HostToContainer',
      volume: String(m['name']),
      source: volumeSource(volume, workload.metadata.name),
    };
  });
  const caps = obj(sc['capabilities']);
  const limit = obj(obj(c['resources'])['limits'])['memory'];
  const uid = pick('runAsUser');
  const gid = pick('runAsGroup');
  return {
    workload: `${workload.kind}/${workload.metadata.name}`,
    container: String(c['name']),
    uid: typeof uid === 'number' ? uid : undefined,
    gid: typeof gid === 'number' ? gid : undefined,
    privileged,
    readOnlyRootFilesystem: sc['readOnlyRootFilesystem'] === true,
    // Kubernetes: privileged implies it; unset means allowed.
    allowPrivilegeEscalation: privileged || sc['allowPrivilegeEscalation'] !== false,
    capDrop: Array.isArray(caps['drop']) ? caps['drop'].map(String) : [],
    capAdd: Array.isArray(caps['add']) ? caps['add'].map(String) : [],
    // Without a seccompProfile the kubelet runs the container Unconfined (SeccompDefault is off by default).
    seccomp: !privileged && seccompType === 'RuntimeDefault' ? 'RuntimeDefault' : 'Unconfined',
    hostNetwork: pod['hostNetwork'] === true,
    command: Array.isArray(c['command']) ? c['command'].map(String) : undefined,
    args: Array.isArray(c['args']) ? c['args'].map(String) : undefined,
    env,
    fieldEnv,
    mounts,
    memoryLimitBytes: typeof limit === 'string' ? quantityBytes(limit) : undefined,
  };
}

export interface RunBindings {
  engine: Engine;
  name: string;
  image: string;
  /** Host directory (or file) that stands in for each volume, by volume name (hostPath volumes need none). */
  volumeDirs: Record<string, string>;
  /** Values of the downward-API fields, by fieldPath. */
  fields: Record<string, string>;
  /** Network flags (the engine cannot reproduce a pod network; the caller says what stands in for it). */
  network: string[];
  /** Arguments appended to the manifests' args (each one a stated deviation). */
  extraArgs: string[];
}

/** The image's ENTRYPOINT and CMD (from `image inspect`). */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
}

/** What the container's PID 1 must run: Kubernetes' command/args semantics over the image's. */
export function expectedArgv(run: ContainerRun, image: ImageConfig, extraArgs: string[]): string[] {
  const command = run.command ?? image.entrypoint;
  const args = run.command !== undefined && run.args === undefined ? [] : (run.args ?? image.cmd);
  return [...command, ...args, ...extraArgs];
}

export function engineFlags(run: ContainerRun, b: RunBindings, image: ImageConfig): string[] {
  const f: string[] = ['run', '--detach', '--name', b.name, ...b.network];
  if (run.uid !== undefined)
    f.push('--user', run.gid !== undefined ? `${run.uid}:${run.gid}` : String(run.uid));
  if (run.privileged) f.push('--privileged');
  if (run.readOnlyRootFilesystem) {
    f.push('--read-only');
    // podman adds writable tmpfs on /tmp, /run and /var/tmp to a read-only container unless told not to.
    if (b.engine === 'podman') f.push('--read-only-tmpfs=false');
  }
  if (!run.allowPrivilegeEscalation) f.push('--security-opt', 'no-new-privileges');
  for (const cap of run.capDrop) f.push('--cap-drop', cap);
  for (const cap of run.capAdd) f.push('--cap-add', cap);
  if (!run.privileged && run.seccomp === 'Unconfined') f.push('--security-opt', 'seccomp=unconfined');
  if (run.memoryLimitBytes !== undefined) f.push('--memory', String(run.memoryLimitBytes));
  for (const [k, v] of Object.entries(run.env)) f.push('--env', `${k}=${v}`);
  for (const [k, path] of Object.entries(run.fieldEnv)) {
    const value = b.fields[path];
    if (value === undefined) throw new Error(`no value for the downward-API field ${path}`);
    f.push('--env', `${k}=${value}`);
  }
  for (const m of run.mounts) {
    if (m.source.kind === 'hostPath') {
      const opts = [m.readOnly ? 'ro' : 'rw', ...(m.hostToContainer ? ['rslave'] : [])].join(',');
      f.push('--volume', `${m.source.path}:${m.path}:${opts}`);
    } else if (m.source.kind === 'emptyDir') {
      const size = m.source.sizeLimit ? `,size=${quantityBytes(m.source.sizeLimit)}` : '';
      f.push('--tmpfs', `${m.path}:rw,mode=1777${size}`);
    } else {
      const dir = b.volumeDirs[m.volume];
      if (dir === undefined) throw new Error(`no host directory for volume ${m.volume}`);
      f.push('--volume', `${dir}:${m.path}:${m.readOnly ? 'ro' : 'rw'}`);
    }
  }
  // The command (or the image's entrypoint) as --entrypoint plus the rest, which works alike in docker
  // (whose --entrypoint takes one word) and podman.
  const [program, ...rest] = expectedArgv(run, image, b.extraArgs);
  f.push('--entrypoint', String(program), b.image, ...rest);
  return f;
}

// ---- what the running process shows ----

export interface Observed {
  status: string;
  cmdline: string;
  environ: string;
  mountinfo: string;
  /** Whether writing a file at / succeeded. */
  rootWritable: boolean;
  /** Each mount path of the manifests as the container resolves it (readlink -f). */
  resolved: Record<string, string>;
  /** The read-write mounts (of the manifests) a file could be written under. */
  writableMounts: string[];
  /** The cgroup memory limit as the container sees it (v2 memory.max or v1 limit_in_bytes). */
  memoryLimit: string;
}

function statusField(status: string, field: string): string | undefined {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
}

function nulList(text: string): string[] {
  return text.split('\0').filter((s) => s !== '');
}

/** Mount points and their per-mount options/optional fields (proc(5) mountinfo). */
export function mountsOf(mountinfo: string): Map<string, { options: string[]; optional: string[] }> {
  const out = new Map<string, { options: string[]; optional: string[] }>();
  for (const line of mountinfo.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 7) continue;
    const sep = parts.indexOf('-');
    const point = (parts[4] ?? '').replace(/\\040/g, ' ');
    out.set(point, { options: (parts[5] ?? '').split(','), optional: parts.slice(6, sep < 0 ? 6 : sep) });
  }
  return out;
}

export interface Expected {
  /** expectedArgv() */
  argv: string[];
  /** The literal and downward-API environment. */
  env: Record<string, string>;
  /** The engine host's capability bounding set: what "privileged" grants. */
  hostCapBnd: string;
  /**
   * Whether the host path is on a shared mount. Only then can a HostToContainer (rslave) mount receive
   * later host mounts: the kubelet's hosts share / (systemd does), a sandbox's may not.
   */
  hostShared: (hostPath: string) => boolean;
}

/** Every way the running container differs from what the manifests ask for. */
export function differences(run: ContainerRun, observed: Observed, want: Expected): string[] {
  const diffs: string[] = [];
  const expect = (what: string, want: unknown, got: unknown) => {
    if (JSON.stringify(want) !== JSON.stringify(got))
      diffs.push(`${what}: manifests ${JSON.stringify(want)}, container ${JSON.stringify(got)}`);
  };
  const [ruid] = (statusField(observed.status, 'Uid') ?? '').split(/\s+/);
  const [rgid] = (statusField(observed.status, 'Gid') ?? '').split(/\s+/);
  if (run.uid !== undefined) expect('uid', run.uid, Number(ruid));
  // Without runAsGroup the runtime takes the user's group from the image's /etc/passwd (root: 0).
  expect('gid', run.gid ?? (run.uid === 0 ? 0 : Number(rgid)), Number(rgid));
  expect('argv', want.argv, nulList(observed.cmdline));
  const env = new Map(
    nulList(observed.environ).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  for (const [k, v] of Object.entries(want.env)) expect(`env ${k}`, v, env.get(k));
  const caps = ['CapEff', 'CapPrm', 'CapBnd'].map((k) => [k, statusField(observed.status, k)] as const);
  const dropsAll = run.capDrop.includes('ALL') && run.capAdd.length === 0;
  for (const [k, v] of caps) {
    if (run.privileged) expect(k, want.hostCapBnd, v);
    else if (dropsAll) expect(k, '0000000000000000', v);
  }
  expect(
    'no_new_privs',
    run.allowPrivilegeEscalation ? '0' : '1',
    statusField(observed.status, 'NoNewPrivs'),
  );
  expect(
    'seccomp mode',
    run.seccomp === 'RuntimeDefault' ? '2' : '0',
    statusField(observed.status, 'Seccomp'),
  );
  expect('root filesystem writable', !run.readOnlyRootFilesystem, observed.rootWritable);
  const mounts = mountsOf(observed.mountinfo);
  for (const m of run.mounts) {
    // The kernel shows a mount where symlinks lead (Debian's /var/run is /run).
    const got = mounts.get(observed.resolved[m.path] ?? m.path);
    if (!got) {
      diffs.push(`mount ${m.path}: missing`);
      continue;
    }
    expect(`mount ${m.path} read-only`, m.readOnly, got.options.includes('ro'));
    // Writing is only tried where the manifests allow it (never into the host's root).
    if (!m.readOnly) expect(`mount ${m.path} writable`, true, observed.writableMounts.includes(m.path));
    if (m.hostToContainer && m.source.kind === 'hostPath' && want.hostShared(m.source.path))
      expect(
        `mount ${m.path} receives host mounts (slave)`,
        true,
        got.optional.some((o) => o.startsWith('master:')),
      );
  }
  if (run.memoryLimitBytes !== undefined)
    expect('memory limit', String(run.memoryLimitBytes), observed.memoryLimit);
  return diffs;
}
