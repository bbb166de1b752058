// aggregator/k8s/api-calls.ts (which the RBAC is tested against) must match what the code really does.
// This drives the real code against the API emulator — the `aggregator` command with the shipped command
// line (TLS bootstrap, service-account issuer discovery, TokenReview with the pre-1.30 pod fallback, reconciling a failing and a passing
// node with their Events, a conflict re-read, the cluster check, a spec reload Event on its Pod), a CA
// rotation by the bootstrap, and `prune` — then maps every request the emulator logged to (group,
// resource, verb, namespace) and checks both directions: each request is a listed call, and each listed
// call was made. A call without a grant, or a grant the code never uses, fails here.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../aggregator/aggregator-command.js';
import {
  KUBERNETES_API_CALLS,
  KUBERNETES_NON_RESOURCE_CALLS,
  SELF_NAMESPACE,
} from '../../../aggregator/k8s/api-calls.js';
import { makeNames } from '../../../aggregator/k8s/names.js';
import { runPrune } from '../../../aggregator/prune-command.js';
import { bootstrapTls, serviceDnsNames } from '../../../aggregator/tls/bootstrap.js';
import {
  type K8sEmulator,
  type LoggedRequest,
  makeNode,
  makePod,
  makeStorageClass,
  startK8sEmulator,
} from '../../../testing/k8s-emulator/index.js';
import {
  AGENT_SERVICE_ACCOUNT,
  AGGREGATOR_ARGS,
  CA_CONFIGMAP,
  NAMESPACE,
  TLS_SECRET,
  TOKEN_AUDIENCE,
} from '../../manifests/expected-args.js';
import { sampleReport } from '../harness.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const names = makeNames();
const SA = { namespace: NAMESPACE, name: AGENT_SERVICE_ACCOUNT };
const AGGREGATOR_POD = 'osmo-node-validator-aggregator-5f7c9-abcde';
const DAY = 24 * 60 * 60 * 1000;

interface ApiRequest {
  group: string;
  resource: string;
  verb: string;
  /** undefined: cluster-scoped (or a request across all namespaces). */
  namespace: string | undefined;
}

/** The RBAC view of a request path, as the apiserver's RequestInfoFactory derives it. */
function apiRequestOf(method: string, path: string, query: Record<string, string>): ApiRequest | null {
  const parts = path.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] as string;
    rest = parts.slice(3);
  } else return null; // a non-resource URL (/version, /healthz, ...)
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest;
  if (plural === undefined) return null;
  const resource = sub ? `${plural}/${sub}` : plural;
  const watch = query['watch'] === 'true' || query['watch'] === '1';
  const verbs: Record<string, string> = {
    GET: name ? 'get' : watch ? 'watch' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: name ? 'delete' : 'deletecollection',
  };
  const verb = verbs[method.toUpperCase()];
  if (verb === undefined) return null;
  return { group, resource, verb, namespace };
}

const keyOf = (r: ApiRequest) => `${r.namespace ?? '(cluster)'} ${r.group}/${r.resource} ${r.verb}`;

/** Every (namespace, group/resource, verb) api-calls.ts lists; `$self` is the validator's namespace. */
function listedCalls(): Set<string> {
  const out = new Set<string>();
  for (const c of KUBERNETES_API_CALLS) {
    const namespaces = c.namespaced ? (c.namespaces ?? []) : [undefined];
    for (const ns of namespaces)
      for (const verb of c.verbs)
        out.add(
          keyOf({
            group: c.group,
            resource: c.resource,
            verb,
            namespace: ns === SELF_NAMESPACE ? NAMESPACE : ns,
          }),
        );
  }
  return out;
}

/** Non-resource URLs every authenticated client may read (system:discovery, system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/version', '/healthz', '/readyz', '/livez']);

/** `METHOD path` of each non-resource call api-calls.ts lists (RBAC verbs on non-resource URLs: get = GET). */
const listedNonResource = () =>
  new Set(
    KUBERNETES_NON_RESOURCE_CALLS.flatMap((c) => c.verbs.map((v) => `${v === 'get' ? 'GET' : v} ${c.path}`)),
  );

/** HTTPS to the aggregator, trusting only the CA its bootstrap published (as the agents do). */
function https(
  url: string,
  ca: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: string }> {
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method,
        ca,
        servername: 'localhost',
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function eventually(
  what: string,
  probe: () => boolean | Promise<boolean>,
  state: () => unknown = () => '',
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what} ${JSON.stringify(state())}`);
}

function conformant(emu: K8sEmulator, node: string): string | undefined {
  const meta = emu.nodes.get(node)?.['metadata'] as { labels?: Record<string, string> } | undefined;
  return meta?.labels?.[names.labels.conformant];
}

function eventsAbout(emu: K8sEmulator, ns: string, kind: string): Array<Record<string, unknown>> {
  return emu.events(ns).filter((e) => (e['involvedObject'] as { kind?: string } | undefined)?.kind === kind);
}

describe('the Kubernetes API calls the code makes are exactly aggregator/k8s/api-calls.ts', () => {
  let emu: K8sEmulator;
  let dir: string;
  let requests: LoggedRequest[] = [];
  let aggregatorLog = '';

  beforeAll(async () => {
    emu = await startK8sEmulator();
    dir = mkdtempSync(join(tmpdir(), 'onv-api-calls-'));
    const kubeconfig = await emu.writeKubeconfigFile(dir);
    const specFile = join(dir, 'spec.yaml');
    copyFileSync(join(ROOT, 'spec', 'baseline.yaml'), specFile);
    emu.nodes.put(makeNode('compute-fail', { labels: { 'node-type': 'compute' } }));
    emu.nodes.put(makeNode('compute-pass', { labels: { 'node-type': 'compute' } }));
    emu.storageClasses.put(makeStorageClass('standard', true));
    emu.pods.put(makePod(NAMESPACE, AGGREGATOR_POD, 'compute-pass', 'aggregator-uid'));
    emu.pods.put(makePod(NAMESPACE, 'agent-fail', 'compute-fail', 'agent-fail-uid'));
    // Before Kubernetes 1.30: no node name in the token, the aggregator reads the pod it names.
    const podBound = emu.tokens.issue({
      serviceAccount: SA,
      audiences: [TOKEN_AUDIENCE],
      omitNodeName: true,
      podName: 'agent-fail',
      podUid: 'agent-fail-uid',
    });
    const nodeBound = emu.tokens.issue({
      serviceAccount: SA,
      audiences: [TOKEN_AUDIENCE],
      nodeName: 'compute-pass',
    });
    // A reader the shipped reader ClusterRole would allow (SubjectAccessReview), and one it would not.
    const reader = emu.tokens.issue({ username: 'alice', groups: ['system:authenticated'] });
    const stranger = emu.tokens.issue({ username: 'mallory', groups: ['system:authenticated'] });
    emu.accessReviews.allow({
      subject: 'alice',
      verb: 'get',
      apiGroup: 'validator.osmo.nvidia.com',
      resource: 'results',
    });
    // The shipped command line, listening on loopback, with the test's kubeconfig and spec copy.
    const argv = AGGREGATOR_ARGS.slice(1).map((a, i, all) =>
      all[i - 1] === '--listen' ? '127.0.0.1:0' : all[i - 1] === '--spec' ? specFile : a,
    );
    argv.push('--kubeconfig', kubeconfig, '--spec-poll', '1h');
    // One PATCH of a node answers 409: the reconciler re-reads the node (nodes get).
    emu.conflictOnFirstTry(1);

    const stop = new AbortController();
    let failure: unknown;
    const code = await run(argv, {
      env: { POD_NAME: AGGREGATOR_POD, POD_NAMESPACE: NAMESPACE, POD_UID: 'aggregator-uid' },
      signal: stop.signal,
      stdout: () => {},
      stderr: (t) => {
        aggregatorLog += t;
      },
      logStream: new Writable({
        write(chunk, _e, cb) {
          aggregatorLog += String(chunk);
          cb();
        },
      }),
      onListening: (url) => {
        const body = async () => {
          const caData = emu.configMaps.get(CA_CONFIGMAP, NAMESPACE)?.['data'] as
            | Record<string, string>
            | undefined;
          const ca = String(caData?.['ca.crt']);
          await eventually('readiness', async () => (await https(url, ca, 'GET', '/readyz')).status === 200);
          // Fails os.release (compute nodes need Ubuntu 22.04+).
          const failing = sampleReport('compute-fail');
          if (failing.facts.os) failing.facts.os.versionId = '20.04';
          const post = (report: unknown, token: string) =>
            https(url, ca, 'POST', '/api/v1/reports', report, token);
          const r1 = await post(failing, podBound);
          expect(r1.status, r1.body).toBe(202);
          const r2 = await post(sampleReport('compute-pass'), nodeBound);
          expect(r2.status, r2.body).toBe(202);
          await eventually(
            'both nodes reconciled with their events',
            () =>
              conformant(emu, 'compute-fail') === 'false' &&
              conformant(emu, 'compute-pass') === 'true' &&
              eventsAbout(emu, 'default', 'Node').length >= 2,
            () => ({
              fail: conformant(emu, 'compute-fail'),
              pass: conformant(emu, 'compute-pass'),
              events: eventsAbout(emu, 'default', 'Node').map((e) => e['reason']),
            }),
          );
          // The cluster checks (default StorageClass) are computed for the summary.
          // Reads: TokenReview of the bearer, then a SubjectAccessReview (401 without, 403 not allowed).
          expect((await https(url, ca, 'GET', '/api/v1/summary')).status).toBe(401);
          expect((await https(url, ca, 'GET', '/api/v1/summary', undefined, stranger)).status).toBe(403);
          expect((await https(url, ca, 'GET', '/api/v1/summary', undefined, reader)).status).toBe(200);
          // An invalid spec, reloaded now: a Warning Event on the aggregator's own Pod.
          writeFileSync(specFile, 'apiVersion: [not a spec\n');
          process.emit('SIGHUP', 'SIGHUP');
          await eventually('the SpecInvalid event', () => eventsAbout(emu, NAMESPACE, 'Pod').length === 1);
        };
        body().then(
          () => stop.abort(),
          (e: unknown) => {
            failure = e;
            stop.abort();
          },
        );
      },
    });
    if (failure) throw failure;
    expect(code, aggregatorLog).toBe(0);

    // Years later the bootstrap replaces its CA: the Secret and the CA ConfigMap are updated in place.
    const later = new Date(Date.now() + 3400 * DAY);
    const rotated = await bootstrapTls({
      kubeConfig: emu.kubeConfig(),
      namespace: NAMESPACE,
      secretName: TLS_SECRET,
      caConfigMapName: CA_CONFIGMAP,
      dnsNames: serviceDnsNames('osmo-node-validator', NAMESPACE),
      now: () => later,
    });
    rotated.stop();

    const out: string[] = [];
    expect(
      await runPrune(['--kubeconfig', kubeconfig], { out: (l) => out.push(l), err: (l) => out.push(l) }),
    ).toBe(0);
    expect(conformant(emu, 'compute-fail')).toBeUndefined();
    requests = [...emu.requests];
  }, 30_000);

  afterAll(async () => {
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the scenario ran as intended (events in both namespaces, the pod read, the CA rotated)', () => {
    const seen = requests.map((r) => `${r.method} ${r.path}`);
    expect(seen).toContain(`GET /api/v1/namespaces/${NAMESPACE}/pods/agent-fail`);
    expect(seen).toContain('POST /api/v1/namespaces/default/events');
    expect(seen).toContain(`POST /api/v1/namespaces/${NAMESPACE}/events`);
    expect(seen).toContain(`PUT /api/v1/namespaces/${NAMESPACE}/secrets/${TLS_SECRET}`);
    expect(seen).toContain(`PUT /api/v1/namespaces/${NAMESPACE}/configmaps/${CA_CONFIGMAP}`);
    expect(eventsAbout(emu, NAMESPACE, 'Pod')[0]).toMatchObject({ reason: 'SpecInvalid' });
  });

  it('every request is a call listed in api-calls.ts, in a listed namespace', () => {
    const listed = listedCalls();
    const unlisted = new Set<string>();
    for (const r of requests) {
      const api = apiRequestOf(r.method, r.path, r.query);
      if (api === null) {
        const listed = listedNonResource().has(`${r.method} ${r.path}`);
        expect(PUBLIC_PATHS.has(r.path) || listed, `${r.method} ${r.path}`).toBe(true);
        continue;
      }
      if (!listed.has(keyOf(api))) unlisted.add(`${keyOf(api)}  (${r.method} ${r.path})`);
    }
    expect([...unlisted]).toEqual([]);
  });

  it('every call listed in api-calls.ts was made (no grant the code does not use)', () => {
    const made = new Set(
      requests.flatMap((r) => {
        const api = apiRequestOf(r.method, r.path, r.query);
        return api ? [keyOf(api)] : [];
      }),
    );
    expect([...listedCalls()].filter((c) => !made.has(c))).toEqual([]);
    const madeNonResource = new Set(requests.map((r) => `${r.method} ${r.path}`));
    expect([...listedNonResource()].filter((c) => !madeNonResource.has(c))).toEqual([]);
  });
});

describe('apiRequestOf', () => {
  it.each([
    ['GET', '/api/v1/nodes', {}, '(cluster) /nodes list'],
    ['GET', '/api/v1/nodes', { watch: 'true' }, '(cluster) /nodes watch'],
    ['GET', '/api/v1/nodes/n1', {}, '(cluster) /nodes get'],
    ['PATCH', '/api/v1/nodes/n1/status', {}, '(cluster) /nodes/status patch'],
    ['POST', '/api/v1/namespaces/default/events', {}, 'default /events create'],
    ['PUT', '/api/v1/namespaces/ns/secrets/s', {}, 'ns /secrets update'],
    ['DELETE', '/api/v1/namespaces/ns/pods', {}, 'ns /pods deletecollection'],
    [
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      {},
      '(cluster) authentication.k8s.io/tokenreviews create',
    ],
    ['GET', '/apis/storage.k8s.io/v1/storageclasses', {}, '(cluster) storage.k8s.io/storageclasses list'],
    ['GET', '/api/v1/events', {}, '(cluster) /events list'],
  ])('%s %s %j → %s', (method, path, query, expected) => {
    const r = apiRequestOf(method, path, query);
    expect(r && keyOf(r)).toBe(expected);
  });

  it('non-resource URLs are not API calls', () => {
    expect(apiRequestOf('GET', '/version', {})).toBeNull();
    expect(apiRequestOf('GET', '/healthz', {})).toBeNull();
  });
});
