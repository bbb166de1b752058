// manifests/uninstall: the Job that runs `prune` in-cluster and its RBAC. The objects validate against the
// Kubernetes schemas and live beside an installation without touching it (no Namespace, no shared names);
// the Job runs the image's `prune` locked down like the aggregator; and its ClusterRole grants exactly the
// API calls `prune` makes when the real command runs with the Job's arguments against the API emulator
// (a node that changes underneath it included), in both directions.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job } from 'kubernetes-models/batch/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeNames } from '../../aggregator/k8s/names.js';
import { runPrune } from '../../aggregator/prune-command.js';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { NAMESPACE } from './expected-args.js';
import {
  containersOf,
  isObj,
  type K8sObject,
  type Obj,
  podSpecOf,
  renderKustomization,
} from './kustomize.js';

const MANIFESTS = join(import.meta.dirname, '..', '..', 'manifests');
const objects = renderKustomization(join(MANIFESTS, 'uninstall'));
const base = renderKustomization(join(MANIFESTS, 'base'));
const names = makeNames();

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function one(list: K8sObject[], kind: string): K8sObject {
  const hits = list.filter((o) => o.kind === kind);
  expect(hits, kind).toHaveLength(1);
  return hits[0] as K8sObject;
}

const job = one(objects, 'Job');
const pod = podSpecOf(job) ?? {};
const [container] = containersOf(pod);
const jobArgs = (container?.['args'] ?? []) as string[];

/** `${group}/${resource} ${verb}` the ClusterRoles bound to the Job's ServiceAccount grant. */
function granted(): string[] {
  const out: string[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding')) {
    const bound = arr(b['subjects']).some(
      (s) =>
        s['kind'] === 'ServiceAccount' &&
        s['name'] === pod['serviceAccountName'] &&
        s['namespace'] === job.metadata.namespace,
    );
    if (!bound) continue;
    const role = objects.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === obj(b['roleRef'])['name'],
    );
    expect(role, 'the bound ClusterRole').toBeDefined();
    for (const rule of arr(role?.['rules'])) {
      expect(rule['resourceNames']).toBeUndefined();
      for (const g of rule['apiGroups'] as string[])
        for (const r of rule['resources'] as string[])
          for (const v of rule['verbs'] as string[]) out.push(`${g}/${r} ${v}`);
    }
  }
  return [...new Set(out)].sort();
}

/** The RBAC (group/resource verb) of a request to the core API, as the apiserver derives it. */
function rbacOf(method: string, path: string, query: Record<string, string>): string {
  const m = /^\/api\/v1\/([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path);
  if (!m) throw new Error(`prune made a request outside the core API: ${method} ${path}`);
  const [, resource, name, sub] = m;
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : query['watch'] === 'true'
          ? 'watch'
          : 'list'
      : ({ PATCH: 'patch', PUT: 'update', POST: 'create', DELETE: 'delete' } as Record<string, string>)[
          method
        ];
  return `/${resource}${sub ? `/${sub}` : ''} ${verb}`;
}

describe('manifests/uninstall', () => {
  it('validates against the Kubernetes schemas and holds no Namespace', () => {
    const validators: Record<string, (o: K8sObject) => void> = {
      Job: (o) => new Job(o as never).validate(),
      ServiceAccount: (o) => new ServiceAccount(o as never).validate(),
      ClusterRole: (o) => new ClusterRole(o as never).validate(),
      ClusterRoleBinding: (o) => new ClusterRoleBinding(o as never).validate(),
    };
    expect(objects.map((o) => o.kind).sort()).toEqual(Object.keys(validators).sort());
    for (const o of objects) {
      expect(() => validators[o.kind]?.(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
      if (o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBeUndefined();
      else expect(o.metadata.namespace).toBe(NAMESPACE);
    }
  });

  it('shares no object with the installation (deleting it deletes only its own objects)', () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const installed = new Set(base.map(key));
    expect(objects.map(key).filter((k) => installed.has(k))).toEqual([]);
    // ... but runs in the installation's namespace, which must still exist then.
    expect(base.some((o) => o.kind === 'Namespace' && o.metadata.name === job.metadata.namespace)).toBe(true);
  });

  it("runs the installation's image, `prune`, with its own token, locked down like the aggregator", () => {
    const aggregator = containersOf(podSpecOf(one(base, 'Deployment')) ?? {})[0];
    expect(container?.['image']).toBe(aggregator?.['image']);
    const images = obj(parse(readFileSync(join(MANIFESTS, 'uninstall', 'kustomization.yaml'), 'utf8')));
    const baseImages = obj(parse(readFileSync(join(MANIFESTS, 'base', 'kustomization.yaml'), 'utf8')));
    expect(images['images']).toEqual(baseImages['images']);
    expect(jobArgs[0]).toBe('prune');
    expect(container?.['command']).toBeUndefined();
    expect(pod['serviceAccountName']).toBe(one(objects, 'ServiceAccount').metadata.name);
    expect(pod['automountServiceAccountToken']).not.toBe(false);
    expect(one(objects, 'ServiceAccount')['automountServiceAccountToken']).not.toBe(false);
    expect(pod['restartPolicy']).toBe('Never');
    expect(Number(obj(job['spec'])['backoffLimit'])).toBeGreaterThan(0);
    expect(obj(pod['securityContext'])).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(obj(container?.['securityContext'])).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(obj(obj(container?.['resources'])['limits'])['memory']).toBeDefined();
    // It can run on nodes carrying the taint it is there to remove.
    expect(arr(pod['tolerations'])).toContainEqual({
      key: names.taintKey,
      operator: 'Exists',
      effect: 'NoSchedule',
    });
  });

  describe("the ClusterRole is exactly what prune calls, with the Job's arguments", () => {
    let emu: K8sEmulator;
    let dir: string;
    let requests: string[] = [];
    let code = -1;
    const lines: string[] = [];

    beforeAll(async () => {
      emu = await startK8sEmulator();
      dir = mkdtempSync(join(tmpdir(), 'onv-uninstall-'));
      const kubeconfig = await emu.writeKubeconfigFile(dir);
      const owned = (name: string) =>
        makeNode(name, {
          labels: {
            [names.labels.conformant]: 'false',
            [names.labels.role]: 'compute',
            'example.com/team': 'a',
          },
          annotations: {
            [names.annotations.managedLabels]: JSON.stringify([names.labels.conformant, names.labels.role]),
            [names.annotations.managedTaints]: JSON.stringify([names.taintKey]),
          },
          taints: [
            { key: 'example.com/dedicated', value: 'ml', effect: 'NoSchedule' },
            { key: names.taintKey, value: 'true', effect: 'NoSchedule' },
          ],
          conditions: [{ type: names.conditionType, status: 'True', reason: 'BaselineNotMet', message: 'x' }],
        });
      emu.nodes.put(owned('compute-1'));
      emu.nodes.put(owned('compute-2'));
      emu.nodes.put(makeNode('untouched', { labels: { 'example.com/team': 'b' } }));
      // The first patch meets a node that changed since it was listed: prune re-reads it (nodes get).
      emu.conflictOnFirstTry(1);
      // In the cluster the Job uses its ServiceAccount; here the emulator's kubeconfig stands in for it.
      code = await runPrune([...jobArgs.slice(1), '--kubeconfig', kubeconfig], {
        out: (l) => lines.push(l),
        err: (l) => lines.push(l),
      });
      requests = emu.requests.map((r) => rbacOf(r.method, r.path, r.query));
    }, 30_000);

    afterAll(async () => {
      await emu?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('prune succeeded and removed only what the validator owns', () => {
      expect(code, lines.join('\n')).toBe(0);
      for (const name of ['compute-1', 'compute-2']) {
        const node = obj(emu.nodes.get(name));
        const labels = obj(obj(node['metadata'])['labels']);
        expect(labels[names.labels.conformant]).toBeUndefined();
        expect(labels['example.com/team']).toBe('a');
        expect(arr(obj(node['spec'])['taints']).map((t) => t['key'])).toEqual(['example.com/dedicated']);
        expect(arr(obj(node['status'])['conditions']).some((c) => c['type'] === names.conditionType)).toBe(
          false,
        );
      }
    });

    it('every request is granted, and every grant was used', () => {
      expect([...new Set(requests)].sort()).toEqual(granted());
      expect(granted()).toEqual(['/nodes get', '/nodes list', '/nodes patch', '/nodes/status patch']);
    });
  });
});
