// The image, run as the manifests run it (called by scripts/image-smoke.sh after the build):
//   1. `check` in the image against this machine's / mounted at /host, chroot mode, privileged as the agent
//      runs; its facts must equal those of `check` run directly on this machine.
//   2. The aggregator with the Deployment's user, read-only root, capabilities, seccomp, V8 flags,
//      environment, mounts and memory limit; its Kubernetes API is the API emulator (testing/k8s-emulator),
//      where its TLS bootstrap creates the Secret and publishes the CA.
//   3. The agent with the DaemonSet's settings, trusting that CA and presenting a token the emulator's
//      TokenReview accepts; its report must be accepted and reconciled onto the emulator's Node.
// Every container's PID 1 is then compared with the manifests (scripts/container-spec.ts); any difference
// fails. What an engine cannot reproduce is stated, not hidden: the pod network (hostNetwork, the Service),
// and the in-cluster API credentials (the aggregator gets --kubeconfig for the emulator instead).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../report/error-message.js';
import {
  AGENT_SERVICE_ACCOUNT,
  CA_CONFIGMAP,
  NAMESPACE,
  TOKEN_AUDIENCE,
} from '../test/manifests/expected-args.js';
import { isObj, type K8sObject, renderKustomization } from '../test/manifests/kustomize.js';
import { type K8sEmulator, makeNode, makePod, startK8sEmulator } from '../testing/k8s-emulator/index.js';
import {
  type ContainerRun,
  containerRunOf,
  differences,
  type Engine,
  engineFlags,
  expectedArgv,
  type ImageConfig,
  type Observed,
} from './container-spec.js';

const ROOT = join(import.meta.dirname, '..');
const NODE = 'smoke-node';
const AGGREGATOR_POD = 'osmo-node-validator-aggregator-smoke';
const SERVICE_HOST = 'osmo-node-validator.osmo-node-validator.svc';
/** Facts that must be the same whether `check` runs in the image (chroot /host) or on the host. */
const SAME_FACTS = ['hostname', 'cpu', 'memory', 'os', 'gpu', 'jetson', 'containerd', 'pci'];

const { values } = parseArgs({
  options: { engine: { type: 'string' }, image: { type: 'string' }, keep: { type: 'boolean' } },
});
const engine = values.engine as Engine;
const image = String(values.image);
if (engine !== 'docker' && engine !== 'podman') throw new Error('--engine docker|podman');

const suffix = `${process.pid}`;
const started: string[] = [];
const problems: string[] = [];
const log = (line: string) => process.stdout.write(`${line}\n`);

function run(args: string[], input?: string): { status: number; out: string; err: string } {
  const r = spawnSync(engine, args, { encoding: 'utf8', input, timeout: 300_000 });
  return { status: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function must(args: string[]): string {
  const r = run(args);
  if (r.status !== 0) throw new Error(`${engine} ${args.join(' ')}: exit ${r.status}: ${r.err.trim()}`);
  return r.out;
}

function exec(name: string, ...cmd: string[]): { status: number; out: string } {
  const r = run(['exec', name, ...cmd]);
  return { status: r.status, out: r.out };
}

function running(name: string): boolean {
  return run(['inspect', '--format', '{{.State.Running}}', name]).out.trim() === 'true';
}

/** Waits for `probe`; gives up early when one of the containers it depends on has exited. */
async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  seconds: number,
  containers: string[],
): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await probe()) return;
    const exited = containers.filter((c) => !running(c));
    if (exited.length > 0) throw new Error(`${exited.join(', ')} exited while waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

function one(objects: K8sObject[], kind: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind);
  if (hits.length !== 1) throw new Error(`expected one ${kind} in the manifests, found ${hits.length}`);
  return hits[0] as K8sObject;
}

function imageConfig(): ImageConfig {
  const json = must(['image', 'inspect', '--format', '{{json .Config}}', image]);
  const config = JSON.parse(json) as { Entrypoint?: string[] | null; Cmd?: string[] | null };
  return { entrypoint: config.Entrypoint ?? [], cmd: config.Cmd ?? [] };
}

/** A JWT-shaped token (the aggregator refuses other shapes before a TokenReview). */
function jwtShaped(subject: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return `${b64({ alg: 'RS256', kid: 'smoke' })}.${b64({ sub: subject, aud: [TOKEN_AUDIENCE], exp })}.sig`;
}

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, ca, servername: SERVICE_HOST, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** What PID 1 of a running container shows, and which of its read-write mounts take a file. */
function observe(name: string, c: ContainerRun): Observed {
  const cat = (file: string) => exec(name, 'cat', file).out;
  const writable = (dir: string) =>
    exec(name, 'sh', '-c', `echo x > '${dir}/.image-smoke' && rm '${dir}/.image-smoke'`).status === 0;
  const memory = exec(
    name,
    'sh',
    '-c',
    'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
  ).out.trim();
  return {
    status: cat('/proc/1/status'),
    cmdline: cat('/proc/1/cmdline'),
    environ: cat('/proc/1/environ'),
    mountinfo: cat('/proc/1/mountinfo'),
    resolved: Object.fromEntries(
      c.mounts.map((m) => [m.path, exec(name, 'readlink', '-f', m.path).out.trim()]),
    ),
    rootWritable: writable(''),
    writableMounts: c.mounts.filter((m) => !m.readOnly && writable(m.path)).map((m) => m.path),
    memoryLimit: memory,
  };
}

function rssMiB(name: string): string {
  const status = exec(name, 'cat', '/proc/1/status').out;
  const kb = Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return `${(kb / 1024).toFixed(1)} MiB`;
}

/** The mount points of this machine that propagate mounts (`shared:` in mountinfo). */
function sharedMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / shared:\d+/.test(l.split(' - ')[0] ?? ''))
    .map((l) => l.split(' ')[4] ?? '');
}

/** Whether `path` lies on a shared mount of this machine (its closest mount point). */
function onSharedMount(path: string): boolean {
  const all = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '');
  const point = all
    .filter((p) => p !== '' && (path === p || path.startsWith(p === '/' ? '/' : `${p}/`)))
    .sort((a, b) => b.length - a.length)[0];
  return point !== undefined && sharedMounts().includes(point);
}

function compare(
  name: string,
  c: ContainerRun,
  config: ImageConfig,
  extraArgs: string[],
  fields: Record<string, string>,
  hostCapBnd: string,
): void {
  const env = { ...c.env };
  for (const [k, path] of Object.entries(c.fieldEnv)) env[k] = fields[path] as string;
  const want = { argv: expectedArgv(c, config, extraArgs), env, hostCapBnd, hostShared: onSharedMount };
  const diffs = differences(c, observe(name, c), want);
  for (const m of c.mounts)
    if (m.hostToContainer && m.source.kind === 'hostPath' && !onSharedMount(m.source.path))
      log(
        `   ${c.workload}: ${m.path} is HostToContainer, but ${m.source.path} is not a shared mount on this machine: propagation not checked`,
      );
  for (const d of diffs) problems.push(`${c.workload}: ${d}`);
  log(
    `   ${c.workload}: ${diffs.length === 0 ? 'matches the manifests' : `${diffs.length} difference(s)`}, resident ${rssMiB(name)}`,
  );
}

/** `check` in the image (privileged, / at /host, chroot) against `check` run directly here. */
function checkInImage(): void {
  log('1. check in the image: / mounted at /host, --exec-mode chroot, privileged root (as the agent runs)');
  const r = run([
    'run',
    '--rm',
    '--privileged',
    '--user',
    '0',
    '--network',
    'host',
    '--volume',
    '/:/host:ro,rslave',
    image,
    'check',
    '--host-root',
    '/host',
    '--exec-mode',
    'chroot',
    '--json',
  ]);
  if (r.status !== 0 && r.status !== 1) {
    problems.push(`check in the image exited ${r.status}: ${r.err.trim()}`);
    return;
  }
  type CheckResult = {
    verdict: string;
    role: string;
    facts: Record<string, unknown>;
    probeErrors: unknown[];
  };
  const parsed = (what: string, out: string, err: string): CheckResult | null => {
    try {
      return JSON.parse(out) as CheckResult;
    } catch {
      const lines = err.split('\n').filter((l) => l.trim() !== '');
      const reason = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '(no output)';
      problems.push(`${what} printed no JSON result: ${reason.trim()}`);
      return null;
    }
  };
  const inImage = parsed(`check in the image (exit ${r.status})`, r.out, r.err);
  const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
  const direct = spawnSync(tsx, [join(ROOT, 'cli', 'main.ts'), 'check', '--json', '--registries', 'none'], {
    encoding: 'utf8',
  });
  const here = parsed('check on this machine', direct.stdout ?? '', direct.stderr ?? '');
  if (!inImage || !here) return;
  for (const f of SAME_FACTS) {
    const a = JSON.stringify(inImage.facts[f]);
    const b = JSON.stringify(here.facts[f]);
    if (a !== b) problems.push(`check: facts.${f} in the image ${a}, on this machine ${b}`);
  }
  log(
    `   verdict ${inImage.verdict}, role ${inImage.role}, probe errors ${inImage.probeErrors.length}; facts ${SAME_FACTS.join(', ')} compared with check on this machine`,
  );
}

/** The emulator seen from a container: podman's slirp4netns reaches the host's loopback as 10.0.2.2. */
async function reachFromContainers(
  emu: K8sEmulator,
): Promise<{ network: string[]; server: string; relay?: Server }> {
  const port = Number(new URL(emu.url).port);
  if (engine === 'podman') {
    return {
      network: ['--network', 'slirp4netns:allow_host_loopback=true'],
      server: `http://10.0.2.2:${port}`,
    };
  }
  // docker's default bridge reaches the host at its gateway address: relay that to the emulator on loopback.
  const gateway = must([
    'network',
    'inspect',
    'bridge',
    '--format',
    '{{(index .IPAM.Config 0).Gateway}}',
  ]).trim();
  const relay = createServer((c) => {
    const u = connect(port, '127.0.0.1');
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, gateway, () => resolve());
  });
  const address = relay.address();
  const relayPort = typeof address === 'object' && address ? address.port : 0;
  return { network: [], server: `http://${gateway}:${relayPort}`, relay };
}

async function services(dir: string, hostCapBnd: string): Promise<void> {
  const objects = renderKustomization(join(ROOT, 'manifests'));
  const config = imageConfig();
  const emu = await startK8sEmulator();
  const reach = await reachFromContainers(emu);
  try {
    emu.nodes.put(makeNode(NODE, { labels: { 'node-type': 'compute' } }));
    emu.pods.put(makePod(NAMESPACE, AGGREGATOR_POD, NODE, 'aggregator-uid'));
    const fields = {
      'spec.nodeName': NODE,
      'metadata.name': AGGREGATOR_POD,
      'metadata.namespace': NAMESPACE,
      'metadata.uid': 'aggregator-uid',
    };
    writeFileSync(
      join(dir, 'kubeconfig', 'config'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'emulator', cluster: { server: reach.server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'emulator', user: { token: emu.token } }],
        contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator' } }],
        'current-context': 'emulator',
      }),
    );

    log('2. the aggregator as the Deployment runs it');
    const deployment = one(objects, 'Deployment');
    const agg = containerRunOf(deployment);
    const specMap = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'osmo-node-validator-spec',
    );
    const specData = isObj(specMap?.['data']) ? specMap['data'] : {};
    for (const [k, v] of Object.entries(specData)) writeFileSync(join(dir, 'spec', k), String(v));
    const aggName = `onv-smoke-aggregator-${suffix}`;
    // /metrics open: the smoke reads the accepted-report counter without a reader identity.
    const aggExtra = ['--kubeconfig', '/etc/image-smoke/kubeconfig/config', '--metrics-open'];
    const aggFlags = engineFlags(
      agg,
      {
        engine,
        name: aggName,
        image,
        volumeDirs: { spec: join(dir, 'spec') },
        fields,
        network: reach.network,
        extraArgs: aggExtra,
      },
      config,
    );
    // The in-cluster credentials stand-in, and the Service name resolving inside the pod's network.
    const at = aggFlags.indexOf('--entrypoint');
    aggFlags.splice(
      at,
      0,
      '--volume',
      `${join(dir, 'kubeconfig')}:/etc/image-smoke/kubeconfig:ro`,
      '--add-host',
      `${SERVICE_HOST}:127.0.0.1`,
      '--publish',
      '127.0.0.1::8443',
    );
    must(aggFlags);
    started.push(aggName);
    const port = Number(must(['port', aggName, '8443']).trim().split('\n')[0]?.split(':').pop());
    let ca = '';
    await until(
      'the CA ConfigMap from the TLS bootstrap',
      () => {
        const data = emu.configMaps.get(CA_CONFIGMAP, NAMESPACE)?.['data'] as
          | Record<string, string>
          | undefined;
        ca = data?.['ca.crt'] ?? '';
        return ca !== '';
      },
      60,
      [aggName],
    );
    await until(
      '/readyz 200 over HTTPS with the published CA',
      async () => (await httpsGet(port, '/readyz', ca)).status === 200,
      60,
      [aggName],
    );
    log('   TLS bootstrap wrote the Secret and the CA ConfigMap; /readyz and /healthz answer over HTTPS');
    if ((await httpsGet(port, '/healthz', ca)).status !== 200)
      problems.push('aggregator /healthz is not 200');

    // The Service (443 -> 8443) inside the pod network: a relay in the aggregator's network namespace.
    const svcName = `onv-smoke-service-${suffix}`;
    const relay =
      "require('net').createServer(c=>{const u=require('net').connect(8443,'127.0.0.1');c.pipe(u).pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy())}).listen(443)";
    must([
      'run',
      '--detach',
      '--name',
      svcName,
      '--network',
      `container:${aggName}`,
      '--user',
      '0',
      '--entrypoint',
      'node',
      image,
      '-e',
      relay,
    ]);
    started.push(svcName);

    log('3. the agent as the DaemonSet runs it');
    const ds = one(objects, 'DaemonSet');
    const agent = containerRunOf(ds);
    const token = emu.tokens.issue({
      token: jwtShaped(`agent-on-${NODE}`),
      serviceAccount: { namespace: NAMESPACE, name: AGENT_SERVICE_ACCOUNT },
      audiences: [TOKEN_AUDIENCE],
      nodeName: NODE,
    });
    const tokenMount = agent.mounts.find((m) => m.source.kind === 'serviceAccountToken');
    const caMount = agent.mounts.find((m) => m.source.kind === 'configMap');
    if (
      !tokenMount ||
      !caMount ||
      tokenMount.source.kind !== 'serviceAccountToken' ||
      caMount.source.kind !== 'configMap'
    )
      throw new Error('the DaemonSet no longer mounts a projected token and a CA ConfigMap');
    writeFileSync(join(dir, 'token', tokenMount.source.path), token);
    for (const item of caMount.source.items ?? [{ key: 'ca.crt', path: 'ca.crt' }]) {
      const data = emu.configMaps.get(caMount.source.name, NAMESPACE)?.['data'] as Record<string, string>;
      writeFileSync(join(dir, 'ca', item.path), data[item.key] ?? '');
    }
    const agentName = `onv-smoke-agent-${suffix}`;
    must(
      engineFlags(
        agent,
        {
          engine,
          name: agentName,
          image,
          volumeDirs: { [tokenMount.volume]: join(dir, 'token'), [caMount.volume]: join(dir, 'ca') },
          fields,
          network: ['--network', `container:${aggName}`],
          extraArgs: [],
        },
        config,
      ),
    );
    started.push(agentName);
    const labelled = () => {
      const meta = emu.nodes.get(NODE)?.['metadata'] as { labels?: Record<string, string> } | undefined;
      return meta?.labels?.['validator.osmo.nvidia.com/conformant'];
    };
    await until(
      'the agent report, accepted and reconciled onto the Node',
      () => labelled() !== undefined,
      90,
      [aggName, svcName, agentName],
    );
    const health = exec(
      agentName,
      'node',
      '-e',
      "fetch('http://127.0.0.1:19181/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))",
    );
    if (health.status !== 0) problems.push('agent /healthz on 19181 is not 200');
    const metrics = (await httpsGet(port, '/metrics', ca)).body;
    const accepted = Number(/^osmo_validator_reports_accepted_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    if (accepted < 1) problems.push('the aggregator counted no accepted report');
    log(`   report accepted (${accepted}), Node labelled conformant=${labelled()}, agent /healthz 200`);

    log('4. each process against the manifests');
    compare(aggName, agg, config, aggExtra, fields, hostCapBnd);
    compare(agentName, agent, config, [], fields, hostCapBnd);
    log(
      "   not reproduced: hostNetwork and the Service (the agent shares the aggregator's network namespace,",
    );
    log(
      `   where ${SERVICE_HOST}:443 is relayed to 8443); in-cluster credentials (--kubeconfig for the emulator)`,
    );
  } finally {
    // Containers go first: the aggregator would otherwise log the emulator's disappearance.
    removeContainers();
    reach.relay?.close();
    await emu.close();
  }
}

/** Removes the containers started (after printing their last log lines when something failed). */
function removeContainers(): void {
  for (const name of started.splice(0).reverse()) {
    if (problems.length > 0) {
      const logs = run(['logs', '--tail', '20', name]);
      log(`--- last log lines of ${name}:\n${logs.out}${logs.err}`);
    }
    if (!values.keep) run(['rm', '--force', name]);
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'onv-image-smoke-'));
  for (const d of ['spec', 'token', 'ca', 'kubeconfig']) execFileSync('mkdir', ['-m', '0755', join(dir, d)]);
  const hostCapBnd = /^CapBnd:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  try {
    checkInImage();
    await services(dir, hostCapBnd);
  } catch (err) {
    problems.push(errorMessage(err));
  } finally {
    removeContainers();
    rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length === 0) {
    log('image smoke test: OK');
    return 0;
  }
  log(`image smoke test: ${problems.length} problem(s)`);
  for (const p of problems) log(`  - ${p}`);
  return 1;
}

process.exitCode = await main();
