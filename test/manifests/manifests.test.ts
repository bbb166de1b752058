// Renders manifests/ (base and every overlay), validates every object against the Kubernetes OpenAPI
// schemas (kubernetes-models), and checks that the pieces fit: selectors, ports, references, the token
// audience, RBAC == aggregator/k8s/api-calls.ts, and the command lines against the commands' parsers.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, ResourceQuota, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../agent/agent-command.js';
import { readAggregatorConfig } from '../../aggregator/config.js';
import {
  KUBERNETES_API_CALLS,
  KUBERNETES_NON_RESOURCE_CALLS,
  SELF_NAMESPACE,
} from '../../aggregator/k8s/api-calls.js';
import { SERVICE_NAME as AGGREGATOR_SERVICE_NAME } from '../../aggregator/main.js';
import { serviceDnsNames } from '../../aggregator/tls/bootstrap.js';
import { envName } from '../../report/flag-table.js';
import {
  AGENT_ARGS,
  AGENT_CA_FILE,
  AGENT_COMMAND,
  AGENT_ENV,
  AGENT_HEALTH_PORT,
  AGENT_NODE_FLAGS,
  AGENT_SERVICE_ACCOUNT,
  AGENT_TOKEN_FILE,
  AGGREGATOR_ARGS,
  AGGREGATOR_COMMAND,
  AGGREGATOR_ENV,
  AGGREGATOR_NODE_FLAGS,
  AGGREGATOR_SERVICE_ACCOUNT,
  CA_CONFIGMAP,
  IMAGE_CLI,
  NAMESPACE,
  OVERLAY_AGGREGATOR_ARGS,
  SERVICE_NAME,
  SPEC_FILE,
  TLS_SECRET,
  TOKEN_AUDIENCE,
} from './expected-args.js';
import {
  configMapHash,
  containersOf,
  isObj,
  type K8sObject,
  type Obj,
  podSpecOf,
  renderKustomization,
} from './kustomize.js';
import { validatePrometheusRule, validateServiceMonitor } from './monitoring-shapes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MANIFESTS = join(ROOT, 'manifests');
const TARGETS: Record<string, string> = {
  top: MANIFESTS,
  base: join(MANIFESTS, 'base'),
  'dry-run': join(MANIFESTS, 'overlays', 'dry-run'),
  'no-taints': join(MANIFESTS, 'overlays', 'no-taints'),
  'cert-manager': join(MANIFESTS, 'overlays', 'cert-manager'),
  prometheus: join(MANIFESTS, 'overlays', 'prometheus'),
  'prometheus-cert-manager': join(MANIFESTS, 'overlays', 'prometheus-cert-manager'),
};

type Validator = (o: K8sObject) => void;
const v =
  <T extends { validate(): void }>(make: (o: never) => T): Validator =>
  (o) =>
    make(o as never).validate();
const VALIDATORS: Record<string, Validator> = {
  'v1/Namespace': v((o) => new Namespace(o)),
  'v1/ServiceAccount': v((o) => new ServiceAccount(o)),
  'v1/Service': v((o) => new Service(o)),
  'v1/ConfigMap': v((o) => new ConfigMap(o)),
  'v1/ResourceQuota': v((o) => new ResourceQuota(o)),
  'apps/v1/DaemonSet': v((o) => new DaemonSet(o)),
  'apps/v1/Deployment': v((o) => new Deployment(o)),
  'rbac.authorization.k8s.io/v1/ClusterRole': v((o) => new ClusterRole(o)),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': v((o) => new ClusterRoleBinding(o)),
  'rbac.authorization.k8s.io/v1/Role': v((o) => new Role(o)),
  'rbac.authorization.k8s.io/v1/RoleBinding': v((o) => new RoleBinding(o)),
  'networking.k8s.io/v1/NetworkPolicy': v((o) => new NetworkPolicy(o)),
  'monitoring.coreos.com/v1/ServiceMonitor': validateServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': validatePrometheusRule,
  // cert-manager's CRDs are not in kubernetes-models: check the fields cert-manager requires.
  'cert-manager.io/v1/Issuer': (o) => {
    const spec = o['spec'];
    if (
      !isObj(spec) ||
      !(isObj(spec['selfSigned']) || (isObj(spec['ca']) && typeof spec['ca']['secretName'] === 'string'))
    ) {
      throw new Error(`Issuer ${o.metadata.name}: needs spec.selfSigned or spec.ca.secretName`);
    }
  },
  'cert-manager.io/v1/Certificate': (o) => {
    const spec = o['spec'];
    if (!isObj(spec) || typeof spec['secretName'] !== 'string' || !isObj(spec['issuerRef'])) {
      throw new Error(`Certificate ${o.metadata.name}: needs spec.secretName and spec.issuerRef`);
    }
    if (typeof spec['issuerRef']['name'] !== 'string') throw new Error('issuerRef.name missing');
  },
};

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
/** Namespaces other than ours that the code makes calls in (e.g. `default` for Node events). */
const FOREIGN_NAMESPACES = new Set(
  KUBERNETES_API_CALLS.flatMap((c) => c.namespaces ?? []).filter((ns) => ns !== SELF_NAMESPACE),
);

function render(name: string): K8sObject[] {
  return renderKustomization(TARGETS[name] as string);
}

function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(hits, `${kind} ${name ?? ''}`).toHaveLength(1);
  return hits[0] as K8sObject;
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function container(workload: K8sObject): Obj {
  const cs = containersOf(podSpecOf(workload) ?? {});
  expect(cs).toHaveLength(1);
  return cs[0] as Obj;
}

/** A container's env entries with a literal value (valueFrom ones are checked on their own). */
function fixedEnv(c: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of arr(c['env'])) if (typeof e['value'] === 'string') out[String(e['name'])] = e['value'];
  return out;
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The file a container sees at `path`, as (volume, key within it), from its volumeMounts. */
function volumeAt(workload: K8sObject, path: string): { volume: Obj; rest: string } {
  const c = container(workload);
  const mount = arr(c['volumeMounts'])
    .filter((m) => path.startsWith(`${String(m['mountPath'])}/`))
    .sort((a, b) => String(b['mountPath']).length - String(a['mountPath']).length)[0];
  expect(mount, `a volume mounted above ${path}`).toBeDefined();
  const volume = arr(podSpecOf(workload)?.['volumes']).find((vol) => vol['name'] === mount?.['name']);
  expect(volume, `volume ${String(mount?.['name'])}`).toBeDefined();
  return { volume: volume as Obj, rest: path.slice(String(mount?.['mountPath']).length + 1) };
}

function labelsMatch(selector: Obj, labels: Obj): boolean {
  return Object.entries(selector).every(([k, val]) => labels[k] === val);
}

interface Grant {
  group: string;
  resource: string;
  verb: string;
  /** The RoleBinding's namespace; undefined for a ClusterRoleBinding (cluster-wide). */
  namespace: string | undefined;
  resourceNames: string[];
}

/** Every (group, resource, verb, namespace) the RBAC objects grant to a ServiceAccount. */
function grantsOf(objects: K8sObject[], ns: string, sa: string): Grant[] {
  const grants: Grant[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const bound = arr(b['subjects']).some(
      (s) => s['kind'] === 'ServiceAccount' && s['name'] === sa && s['namespace'] === ns,
    );
    if (!bound) continue;
    const ref = obj(b['roleRef']);
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    // A RoleBinding's Role lives in the binding's namespace.
    const role = one(
      objects.filter((o) => o.kind !== 'Role' || o.metadata.namespace === namespace),
      String(ref['kind']),
      String(ref['name']),
    );
    for (const rule of arr(role['rules'])) {
      if (rule['nonResourceURLs'] !== undefined) {
        // Only a ClusterRole bound by a ClusterRoleBinding grants non-resource URLs.
        if (ref['kind'] !== 'ClusterRole' || b.kind !== 'ClusterRoleBinding') continue;
        for (const path of rule['nonResourceURLs'] as string[])
          for (const verb of rule['verbs'] as string[])
            grants.push({ group: '(non-resource)', resource: path, verb, namespace, resourceNames: [] });
        continue;
      }
      for (const group of rule['apiGroups'] as string[])
        for (const resource of rule['resources'] as string[])
          for (const verb of rule['verbs'] as string[])
            grants.push({
              group,
              resource,
              verb,
              namespace,
              resourceNames: (rule['resourceNames'] as string[] | undefined) ?? [],
            });
    }
  }
  return grants;
}

describe.each(Object.keys(TARGETS))('manifests (%s)', (target) => {
  const objects = render(target);

  it('every object is valid against the Kubernetes schemas and unique', () => {
    const keys = new Set<string>();
    for (const o of objects) {
      const validate = VALIDATORS[`${o.apiVersion}/${o.kind}`];
      expect(validate, `a validator for ${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => validate?.(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
      const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      expect(keys.has(key), key).toBe(false);
      keys.add(key);
      if (CLUSTER_SCOPED.has(o.kind)) expect(o.metadata.namespace).toBeUndefined();
      else if (o.metadata.namespace !== NAMESPACE) {
        // Only RBAC reaches outside our namespace, and only into namespaces the code uses.
        expect(['Role', 'RoleBinding'], key).toContain(o.kind);
        expect(FOREIGN_NAMESPACES.has(String(o.metadata.namespace)), key).toBe(true);
      }
    }
    one(objects, 'Namespace', NAMESPACE);
  });

  it('workload selectors match their pod templates; the Service selects only the aggregator', () => {
    const ds = one(objects, 'DaemonSet');
    const dep = one(objects, 'Deployment');
    for (const w of [ds, dep]) {
      const spec = obj(w['spec']);
      const labels = obj(obj(obj(spec['template'])['metadata'])['labels']);
      expect(labelsMatch(obj(obj(spec['selector'])['matchLabels']), labels)).toBe(true);
    }
    const svc = one(objects, 'Service', SERVICE_NAME);
    const selector = obj(obj(svc['spec'])['selector']);
    const podLabels = (w: K8sObject) => obj(obj(obj(obj(w['spec'])['template'])['metadata'])['labels']);
    expect(labelsMatch(selector, podLabels(dep))).toBe(true);
    expect(labelsMatch(selector, podLabels(ds))).toBe(false);
    const [port] = arr(obj(svc['spec'])['ports']);
    expect(port?.['port']).toBe(443);
    const target = port?.['targetPort'];
    const cport = arr(container(dep)['ports']).find(
      (p) => p['name'] === target || p['containerPort'] === target,
    );
    expect(cport?.['containerPort']).toBe(8443);
    expect(argValue(container(dep)['args'] as string[], '--listen')).toBe(
      `0.0.0.0:${cport?.['containerPort']}`,
    );
  });

  it('every ServiceAccount, ConfigMap and Secret referenced exists or is created at run time', () => {
    const certManagerSecrets = objects
      .filter((o) => o.kind === 'Certificate')
      .map((o) => String(obj(o['spec'])['secretName']));
    const dep = one(objects, 'Deployment');
    const bootstrap = argValue(container(dep)['args'] as string[], '--tls-bootstrap');
    // Created at run time: the bootstrap's Secret and CA ConfigMap; cert-manager's Secrets.
    const runtimeSecrets = new Set([...certManagerSecrets, ...(bootstrap ? [bootstrap.split('/')[1]] : [])]);
    const runtimeConfigMaps = new Set([CA_CONFIGMAP]);
    for (const w of [one(objects, 'DaemonSet'), dep]) {
      const pod = podSpecOf(w) ?? {};
      one(objects, 'ServiceAccount', String(pod['serviceAccountName']));
      for (const vol of arr(pod['volumes'])) {
        const cm = obj(vol['configMap']);
        if (typeof cm['name'] === 'string') {
          const exists = objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === cm['name']);
          expect(exists || (runtimeConfigMaps.has(cm['name']) && cm['optional'] === true), cm['name']).toBe(
            true,
          );
        }
        const secret = obj(vol['secret']);
        if (typeof secret['secretName'] === 'string') {
          const exists = objects.some((o) => o.kind === 'Secret' && o.metadata.name === secret['secretName']);
          expect(exists || runtimeSecrets.has(secret['secretName']), secret['secretName']).toBe(true);
        }
      }
      for (const c of containersOf(pod)) {
        for (const m of arr(c['volumeMounts'])) {
          expect(
            arr(pod['volumes']).some((vol) => vol['name'] === m['name']),
            String(m['name']),
          ).toBe(true);
        }
      }
    }
  });

  it('the aggregator RBAC grants exactly the calls in api-calls.ts, where they are made; the agent has none', () => {
    const granted = grantsOf(objects, NAMESPACE, AGGREGATOR_SERVICE_ACCOUNT);
    const key = (g: { group: string; resource: string; verb: string; namespace: string | undefined }) =>
      `${g.namespace ?? '(cluster)'} ${g.group}/${g.resource} ${g.verb}`;
    // `$self` is our namespace: the shipped manifests put the aggregator and the agent ServiceAccount there.
    const expected = KUBERNETES_API_CALLS.flatMap((c) =>
      (c.namespaced ? (c.namespaces ?? []) : [undefined]).flatMap((ns) =>
        c.verbs.map((verb) =>
          key({
            group: c.group,
            resource: c.resource,
            verb,
            namespace: ns === SELF_NAMESPACE ? NAMESPACE : ns,
          }),
        ),
      ),
    );
    for (const c of KUBERNETES_NON_RESOURCE_CALLS) {
      for (const verb of c.verbs) {
        expected.push(key({ group: '(non-resource)', resource: c.path, verb, namespace: undefined }));
      }
    }
    // Both directions: every listed call is granted, and nothing else is.
    expect([...new Set(granted.map(key))].sort()).toEqual([...new Set(expected)].sort());
    expect(granted.some((g) => [g.group, g.resource, g.verb].includes('*'))).toBe(false);
    // Namespaced rights are narrowed to the bootstrap's objects wherever Kubernetes allows it (pods: the
    // agent pod's name is only known from the token; events and creates: generated or unknown names).
    for (const g of granted.filter((x) => x.namespace !== undefined && x.verb !== 'create')) {
      const allowed =
        g.resource === 'secrets' ? [TLS_SECRET] : g.resource === 'configmaps' ? [CA_CONFIGMAP] : [];
      expect(g.resourceNames, key(g)).toEqual(allowed);
    }
    expect(granted.filter((g) => g.namespace === undefined).every((g) => g.resourceNames.length === 0)).toBe(
      true,
    );
    expect(grantsOf(objects, NAMESPACE, AGENT_SERVICE_ACCOUNT)).toEqual([]);
    const agentSubjects = objects
      .filter((o) => o.kind.endsWith('Binding'))
      .flatMap((o) => arr(o['subjects']))
      .filter((s) => s['name'] === AGENT_SERVICE_ACCOUNT);
    expect(agentSubjects).toEqual([]);
  });

  it('the agent DaemonSet: every node, host view, projected token, CA, NODE_NAME, budgets', () => {
    const ds = one(objects, 'DaemonSet');
    const spec = obj(ds['spec']);
    const pod = podSpecOf(ds) ?? {};
    const c = container(ds);
    expect(c['args']).toEqual(AGENT_ARGS);
    // The image's ENTRYPOINT with the agent's V8 flags in between (bench/agent runs the same flags).
    expect(c['command']).toEqual(AGENT_COMMAND);
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(JSON.parse(entrypoint?.[1] ?? '[]')).toEqual(['node', IMAGE_CLI]);
    expect(AGENT_COMMAND).toEqual(['node', ...AGENT_NODE_FLAGS, IMAGE_CLI]);
    expect(fixedEnv(c)).toEqual(AGENT_ENV);
    expect(pod['serviceAccountName']).toBe(AGENT_SERVICE_ACCOUNT);
    expect(pod['automountServiceAccountToken']).toBe(false);
    expect(one(objects, 'ServiceAccount', AGENT_SERVICE_ACCOUNT)['automountServiceAccountToken']).toBe(false);
    expect(pod['tolerations']).toEqual([{ operator: 'Exists' }]);
    expect(pod['priorityClassName']).toBe('system-node-critical');
    // Clusters limiting PriorityClass by quota admit such pods only where a quota covers that class.
    const covering = objects.filter((o) => {
      const spec = obj(o['spec']);
      const exprs = arr(obj(spec['scopeSelector'])['matchExpressions']);
      const values = exprs[0]?.['values'];
      return (
        o.kind === 'ResourceQuota' &&
        o.metadata.namespace === ds.metadata.namespace &&
        exprs.length === 1 &&
        exprs[0]?.['scopeName'] === 'PriorityClass' &&
        exprs[0]?.['operator'] === 'In' &&
        Array.isArray(values) &&
        values.includes(pod['priorityClassName']) &&
        Object.keys(obj(spec['hard'])).join() === 'pods'
      );
    });
    expect(covering).toHaveLength(1);
    // Generous: never the reason an agent pod is refused (one pod per node, plus rollouts).
    expect(Number(obj(obj(covering[0]?.['spec'])['hard'])['pods'])).toBeGreaterThanOrEqual(10_000);
    expect(pod['hostNetwork']).toBe(true);
    expect(pod['dnsPolicy']).toBe('ClusterFirstWithHostNet');
    expect(pod['hostPID']).toBe(false);
    expect(obj(c['securityContext'])['privileged']).toBe(true);
    expect(obj(c['securityContext'])['runAsUser']).toBe(0);
    expect(obj(obj(spec['updateStrategy'])['rollingUpdate'])['maxUnavailable']).toBe('10%');
    expect(c['resources']).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    expect(c['image']).toBe('ghcr.io/nvidia/osmo-node-validator:0.1.0');

    const hostMount = arr(c['volumeMounts']).find((m) => m['mountPath'] === '/host');
    expect(hostMount).toMatchObject({ readOnly: true, mountPropagation: 'HostToContainer' });
    const hostVol = arr(pod['volumes']).find((vol) => vol['name'] === hostMount?.['name']);
    expect(obj(hostVol?.['hostPath'])['path']).toBe('/');

    const token = volumeAt(ds, AGENT_TOKEN_FILE);
    const sources = arr(obj(token.volume['projected'])['sources']);
    expect(sources).toEqual([
      { serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: token.rest } },
    ]);
    const ca = volumeAt(ds, AGENT_CA_FILE);
    expect(ca.volume['configMap']).toMatchObject({ name: CA_CONFIGMAP, optional: true });
    expect(arr(obj(ca.volume['configMap'])['items'])).toEqual([{ key: 'ca.crt', path: ca.rest }]);

    const env = arr(c['env']).find((e) => e['name'] === 'NODE_NAME');
    expect(env?.['valueFrom']).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    // The OSMO service's URL is the site's: an optional ConfigMap key, so the agent runs without one.
    const osmoUrl = arr(c['env']).find((e) => e['name'] === envName('osmo-url'));
    expect(osmoUrl?.['valueFrom']).toEqual({
      configMapKeyRef: { name: 'osmo-node-validator-agent', key: 'osmo-url', optional: true },
    });

    const probe = obj(obj(c['livenessProbe'])['httpGet']);
    // The agent binds loopback (--health-host's default); the kubelet shares the host network namespace.
    expect(probe).toMatchObject({ host: '127.0.0.1', path: '/healthz', port: AGENT_HEALTH_PORT });
    expect(argValue(AGENT_ARGS, '--health-port')).toBe(String(probe['port']));
    // hostNetwork: the port is a host port, declared so the scheduler never puts two agents on a node's port.
    expect(arr(c['ports'])).toEqual([
      { name: 'health', containerPort: AGENT_HEALTH_PORT, hostPort: AGENT_HEALTH_PORT, protocol: 'TCP' },
    ]);
    // A registered-range port below the ephemeral range (no outgoing connection ever takes it).
    expect(AGENT_HEALTH_PORT).toBeGreaterThan(1023);
    expect(AGENT_HEALTH_PORT).toBeLessThan(32768);
  });

  it('the aggregator Deployment: single writer, locked down, spec mounted where --spec points', () => {
    const dep = one(objects, 'Deployment');
    const spec = obj(dep['spec']);
    const pod = podSpecOf(dep) ?? {};
    const c = container(dep);
    expect(spec['replicas']).toBe(1);
    expect(obj(spec['strategy'])['type']).toBe('Recreate');
    expect(pod['serviceAccountName']).toBe(AGGREGATOR_SERVICE_ACCOUNT);
    expect(obj(pod['securityContext'])).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(obj(c['securityContext'])).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(obj(obj(c['readinessProbe'])['httpGet'])).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(obj(obj(c['livenessProbe'])['httpGet'])).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(obj(c['resources'])['limits']).toEqual({ memory: '512Mi' });

    // The image's ENTRYPOINT with the aggregator's V8 flags in between (bench/ runs the same flags).
    expect(c['command']).toEqual(AGGREGATOR_COMMAND);
    expect(AGGREGATOR_COMMAND).toEqual(['node', ...AGGREGATOR_NODE_FLAGS, IMAGE_CLI]);
    // Memory settings (bench/scale starts the aggregator with the same environment).
    expect(fixedEnv(c)).toEqual(AGGREGATOR_ENV);
    const args = c['args'] as string[];
    const expectedArgs = OVERLAY_AGGREGATOR_ARGS[target] ?? AGGREGATOR_ARGS;
    expect(args).toEqual(expectedArgs);
    expect(argValue(args, '--token-audience')).toBe(TOKEN_AUDIENCE);
    const [saNs, saName] = String(argValue(args, '--agent-service-account')).split('/');
    const ds = one(objects, 'DaemonSet');
    expect(`${saNs}/${saName}`).toBe(`${ds.metadata.namespace}/${podSpecOf(ds)?.['serviceAccountName']}`);

    const specFile = String(argValue(args, '--spec'));
    const specVol = volumeAt(dep, specFile);
    const cmName = String(obj(specVol.volume['configMap'])['name']);
    // A fixed name: `kubectl apply -k` updates it in place and the aggregator reloads it (--spec-poll).
    expect(cmName).toBe('osmo-node-validator-spec');
    const cm = one(objects, 'ConfigMap', cmName);
    expect(Object.keys(obj(cm['data']))).toContain(specVol.rest);
    expect(obj(cm['data'])[specVol.rest]).toBe(readFileSync(join(MANIFESTS, 'base', 'spec.yaml'), 'utf8'));

    const bootstrap = argValue(args, '--tls-bootstrap');
    if (bootstrap !== undefined) expect(bootstrap).toBe(`${NAMESPACE}/${TLS_SECRET}`);
    else {
      // cert-manager: the cert and key files come from the Certificate's Secret.
      const cert = volumeAt(dep, String(argValue(args, '--tls-cert')));
      const key = volumeAt(dep, String(argValue(args, '--tls-key')));
      expect(cert.volume).toBe(key.volume);
      const secretName = obj(cert.volume['secret'])['secretName'];
      const certificate = objects.find(
        (o) => o.kind === 'Certificate' && obj(o['spec'])['secretName'] === secretName,
      );
      expect(certificate, 'a Certificate writing the mounted Secret').toBeDefined();
      const dnsNames = obj(certificate?.['spec'])['dnsNames'] as string[];
      expect(dnsNames).toContain(new URL(String(argValue(AGENT_ARGS, '--aggregator'))).hostname);
    }
  });

  it("the aggregator's shutdown deadline and any preStop sleep fit in the pod's grace period", () => {
    const dep = one(objects, 'Deployment');
    const pod = podSpecOf(dep) ?? {};
    const c = container(dep);
    // Set explicitly, so an edit of either side is seen here (Kubernetes' default is 30 s too).
    const graceSeconds = pod['terminationGracePeriodSeconds'];
    expect(typeof graceSeconds).toBe('number');
    const config = readAggregatorConfig((c['args'] as string[]).slice(1), {});
    if (config === 'help') throw new Error('the Deployment asks for --help');
    // The kubelet's SIGTERM comes after preStop: a sleep there (exec `sleep N` or the sleep action) counts.
    const preStop = obj(obj(c['lifecycle'])['preStop']);
    const execSleep = /^sleep\s+(\d+)$/.exec(((obj(preStop['exec'])['command'] as string[]) ?? []).join(' '));
    const preStopSeconds = Number(obj(preStop['sleep'])['seconds'] ?? execSleep?.[1] ?? 0);
    // A margin for the process to exit after the deadline (measured ~50 ms: test/aggregator/sigterm.test.ts).
    const marginSeconds = 5;
    expect(preStopSeconds + config.shutdownTimeoutMs / 1000 + marginSeconds).toBeLessThanOrEqual(
      Number(graceSeconds),
    );
  });
});

describe('aggregator/k8s/api-calls.ts', () => {
  it('names the namespaces of every namespaced call, and none for cluster-scoped ones', () => {
    for (const c of KUBERNETES_API_CALLS) {
      if (c.namespaced) expect(c.namespaces?.length, c.resource).toBeGreaterThan(0);
      else expect(c.namespaces, c.resource).toBeUndefined();
    }
  });
});

describe('command lines against the commands', () => {
  it("the agent's arguments parse with the agent's own parser", () => {
    // The parser checks that --host-root exists; /host exists only in the pod, so / stands in for it here
    // (the DaemonSet test checks that /host is where the host's root is mounted).
    const argv = AGENT_ARGS.slice(1).map((a, i, all) => (all[i - 1] === '--host-root' ? '/' : a));
    expect(argValue(AGENT_ARGS, '--host-root')).toBe('/host');
    const config = parseAgentArgs(argv, { NODE_NAME: 'node-a' });
    expect(config).not.toBe('help');
    if (config === 'help') return;
    expect(config.aggregator.href).toBe(`https://${SERVICE_NAME}.${NAMESPACE}.svc/`);
    expect(config.hostRoot).toBe('/');
    expect(config.execMode).toBe('chroot');
    expect(config.intervalMs).toBe(60_000);
    // Loopback, where the liveness probe's host points (the DaemonSet test).
    expect(config.health).toEqual({ host: '127.0.0.1', port: AGENT_HEALTH_PORT });
    expect(config.nodeName).toBe('node-a');
    expect(config.tokenFile).toBe(AGENT_TOKEN_FILE);
    expect(config.caFile).toBe(AGENT_CA_FILE);
  });

  it.each(Object.entries({ base: AGGREGATOR_ARGS, ...OVERLAY_AGGREGATOR_ARGS }))(
    "the aggregator's arguments (%s) parse with the aggregator's own parser",
    (variant, args) => {
      expect(args[0]).toBe('aggregator');
      const config = readAggregatorConfig(args.slice(1), {});
      expect(config).not.toBe('help');
      if (config === 'help') return;
      expect(config.listen).toEqual({ host: '0.0.0.0', port: 8443 });
      expect(config.specFile).toBe(SPEC_FILE);
      expect(config.tokenAudience).toBe(TOKEN_AUDIENCE);
      expect(config.agentServiceAccount).toEqual({ namespace: NAMESPACE, name: AGENT_SERVICE_ACCOUNT });
      expect(config.dryRun).toBe(variant === 'dry-run');
      expect(config.taintRoles).toEqual(variant === 'no-taints' ? [] : undefined);
      if (variant.endsWith('cert-manager')) {
        expect(config.tlsBootstrap).toBeUndefined();
        expect(config.tls).toEqual({
          certFile: argValue(args, '--tls-cert'),
          keyFile: argValue(args, '--tls-key'),
        });
      } else {
        expect(config.tlsBootstrap).toEqual({ namespace: NAMESPACE, name: TLS_SECRET });
      }
    },
  );

  it('the TLS bootstrap issues for the name the agents dial', () => {
    const host = new URL(String(argValue(AGENT_ARGS, '--aggregator'))).hostname;
    expect(serviceDnsNames(AGGREGATOR_SERVICE_NAME, NAMESPACE)).toContain(host);
    expect(AGGREGATOR_SERVICE_NAME).toBe(SERVICE_NAME);
  });
});

describe('the spec ConfigMap', () => {
  it('manifests/base/spec.yaml is identical to spec/baseline.yaml', () => {
    // kustomize cannot read files above the kustomization root, so the base carries a copy.
    // Fix a failure with: cp spec/baseline.yaml manifests/base/spec.yaml
    expect(
      readFileSync(join(MANIFESTS, 'base', 'spec.yaml'), 'utf8'),
      'cp spec/baseline.yaml manifests/base/spec.yaml',
    ).toBe(readFileSync(join(ROOT, 'spec', 'baseline.yaml'), 'utf8'));
  });

  it("the renderer computes kustomize's content-hash suffix (reference value from kustomize v5.5.0)", () => {
    expect(configMapHash({ 'spec.yaml': 'a: 1\n' })).toBe('9fh262k2k4');
  });

  it('has a fixed name, so editing the spec updates it in place and the aggregator reloads it live', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onv-manifests-'));
    try {
      cpSync(join(MANIFESTS, 'base'), dir, { recursive: true });
      const before = renderKustomization(dir);
      writeFileSync(join(dir, 'spec.yaml'), `${readFileSync(join(dir, 'spec.yaml'), 'utf8')}\n# edited\n`);
      const after = renderKustomization(dir);
      const cmOf = (d: K8sObject) =>
        arr(podSpecOf(d)?.['volumes'])
          .map((vol) => obj(vol['configMap'])['name'])
          .find((name) => name === 'osmo-node-validator-spec');
      // The Deployment's pod template does not change (no new pod that could exit on a bad spec) ...
      expect(one(after, 'Deployment')).toEqual(one(before, 'Deployment'));
      expect(cmOf(one(after, 'Deployment'))).toBe('osmo-node-validator-spec');
      // ... while the ConfigMap of that name carries the edit.
      const specOf = (objs: K8sObject[]) =>
        objs.find(
          (o) => o['kind'] === 'ConfigMap' && obj(o['metadata'])['name'] === 'osmo-node-validator-spec',
        );
      expect(String(obj(specOf(after)?.['data'])['spec.yaml'])).toContain('# edited');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
