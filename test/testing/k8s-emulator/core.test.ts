import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  OpenidApi,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  WellKnownApi,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type K8sEmulator,
  makeNode,
  makePod,
  makeStorageClass,
  startK8sEmulator,
} from '../../../testing/k8s-emulator/index.js';

let emu: K8sEmulator;
let core: CoreV1Api;

beforeEach(async () => {
  emu = await startK8sEmulator();
  core = emu.kubeConfig().makeApiClient(CoreV1Api);
  emu.nodes.put(makeNode('gpu-1', { labels: { team: 'a', 'validator.osmo.nvidia.com/role': 'gpu' } }));
  emu.nodes.put(makeNode('cpu-1'));
});

afterEach(async () => {
  await emu.close();
});

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

function codeOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? (err as { code: number }).code
    : undefined;
}

async function failure(
  p: Promise<unknown>,
): Promise<{ code: number | undefined; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const raw = (err as { body?: unknown }).body;
    const body =
      typeof raw === 'string'
        ? (JSON.parse(raw) as Record<string, unknown>)
        : ((raw ?? {}) as Record<string, unknown>);
    return { code: codeOf(err), body };
  }
  throw new Error('expected the call to fail');
}

describe('nodes through the real client', () => {
  it('lists with a resourceVersion and a label selector, and gets one node', async () => {
    const list = await core.listNode();
    expect(list.items.map((n) => n.metadata?.name)).toEqual(['cpu-1', 'gpu-1']);
    expect(list.metadata?.resourceVersion).toBe(emu.resourceVersion);
    const selected = await core.listNode({ labelSelector: 'team=a' });
    expect(selected.items.map((n) => n.metadata?.name)).toEqual(['gpu-1']);
    const notA = await core.listNode({ labelSelector: 'team!=a,kubernetes.io/os in (linux)' });
    expect(notA.items.map((n) => n.metadata?.name)).toEqual(['cpu-1']);
    const node = await core.readNode({ name: 'gpu-1' });
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toBe('containerd://1.7.27');
    expect(node.status?.conditions?.map((c) => c.type)).toEqual([
      'MemoryPressure',
      'DiskPressure',
      'PIDPressure',
      'Ready',
    ]);
  });

  it('pages a list with limit/continue', async () => {
    emu.nodes.put(makeNode('x-1'));
    const first = await core.listNode({ limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.metadata?._continue).toBeTruthy();
    const second = await core.listNode({ limit: 2, _continue: first.metadata!._continue! });
    expect(second.items.map((n) => n.metadata?.name)).toEqual(['x-1']);
    expect(second.metadata?._continue).toBeUndefined();
  });

  it('answers 404 with a NotFound Status', async () => {
    const f = await failure(core.readNode({ name: 'nope' }));
    expect(f.code).toBe(404);
    expect(f.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
  });

  it('strategic merge patch merges labels, deletes with null, merges conditions by type', async () => {
    const before = emu.resourceVersion;
    const patched = await core.patchNode(
      {
        name: 'gpu-1',
        body: { metadata: { labels: { team: null, 'validator.osmo.nvidia.com/conformant': 'true' } } },
      },
      smp,
    );
    expect(patched.metadata?.labels?.['team']).toBeUndefined();
    expect(patched.metadata?.labels?.['validator.osmo.nvidia.com/conformant']).toBe('true');
    expect(patched.metadata?.labels?.['kubernetes.io/hostname']).toBe('gpu-1');
    expect(Number(patched.metadata?.resourceVersion)).toBeGreaterThan(Number(before));

    const cond = {
      type: 'osmo.nvidia.com/BaselineNotMet',
      status: 'True',
      reason: 'ChecksFailed',
      message: 'gpu.driver',
    };
    const withCond = await core.patchNodeStatus(
      { name: 'gpu-1', body: { status: { conditions: [cond] } } },
      smp,
    );
    expect(withCond.status?.conditions?.map((c) => c.type)).toEqual([
      'MemoryPressure',
      'DiskPressure',
      'PIDPressure',
      'Ready',
      'osmo.nvidia.com/BaselineNotMet',
    ]);
    const flipped = await core.patchNodeStatus(
      {
        name: 'gpu-1',
        body: { status: { conditions: [{ ...cond, status: 'False', reason: 'ChecksPassed' }] } },
      },
      smp,
    );
    const mine = flipped.status?.conditions?.filter((c) => c.type === 'osmo.nvidia.com/BaselineNotMet');
    expect(mine).toHaveLength(1);
    expect(mine?.[0]).toMatchObject({ status: 'False', reason: 'ChecksPassed', message: 'gpu.driver' });
    expect(flipped.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('strategic merge patch replaces spec.taints whole (no merge key)', async () => {
    emu.nodes.put(makeNode('t', { taints: [{ key: 'other/thing', value: 'x', effect: 'NoExecute' }] }));
    const taint = { key: 'validator.osmo.nvidia.com/nonconformant', value: 'true', effect: 'NoSchedule' };
    const patched = await core.patchNode({ name: 't', body: { spec: { taints: [taint] } } }, smp);
    expect(patched.spec?.taints).toEqual([taint]);
  });

  it('strategic merge directives: $patch delete on a list element and replace on a map', async () => {
    await core.patchNodeStatus(
      { name: 'gpu-1', body: { status: { conditions: [{ type: 'X', status: 'True' }] } } },
      smp,
    );
    const deleted = await core.patchNodeStatus(
      { name: 'gpu-1', body: { status: { conditions: [{ type: 'X', $patch: 'delete' }] } } },
      smp,
    );
    expect(deleted.status?.conditions?.some((c) => c.type === 'X')).toBe(false);
    expect(deleted.status?.conditions).toHaveLength(4);
    const replaced = await core.patchNode(
      { name: 'gpu-1', body: { metadata: { annotations: { $patch: 'replace', only: 'this' } } } },
      smp,
    );
    expect(replaced.metadata?.annotations).toEqual({ only: 'this' });
  });

  it('merge patch replaces lists and deletes with null', async () => {
    const patched = await core.patchNode(
      { name: 'gpu-1', body: { metadata: { labels: { team: null, b: '2' } }, spec: { taints: [] } } },
      merge,
    );
    expect(patched.metadata?.labels?.['team']).toBeUndefined();
    expect(patched.metadata?.labels?.['b']).toBe('2');
    expect(patched.spec?.taints).toEqual([]);
  });

  it('JSON patch with ~1 escaping, and a failed test op answers 422 Invalid and changes nothing', async () => {
    const rv = emu.nodes.get('gpu-1')?.metadata;
    const ok = await core.patchNode(
      {
        name: 'gpu-1',
        body: [
          { op: 'test', path: '/metadata/labels/validator.osmo.nvidia.com~1role', value: 'gpu' },
          { op: 'replace', path: '/metadata/labels/validator.osmo.nvidia.com~1role', value: 'compute' },
        ],
      },
      jsonPatch,
    );
    expect(ok.metadata?.labels?.['validator.osmo.nvidia.com/role']).toBe('compute');
    expect(ok.metadata?.resourceVersion).not.toBe((rv as { resourceVersion: string }).resourceVersion);
    const writes = emu.resourceVersion;
    const f = await failure(
      core.patchNode(
        {
          name: 'gpu-1',
          body: [
            { op: 'test', path: '/metadata/labels/validator.osmo.nvidia.com~1role', value: 'gpu' },
            { op: 'remove', path: '/metadata/labels/team' },
          ],
        },
        jsonPatch,
      ),
    );
    expect(f.code).toBe(422);
    expect(f.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    expect(emu.resourceVersion).toBe(writes);
    expect(emu.nodes.get('gpu-1')?.metadata).toHaveProperty('labels.team', 'a');
  });

  it('a stale metadata.resourceVersion in a patch answers 409 Conflict', async () => {
    const node = await core.readNode({ name: 'gpu-1' });
    emu.nodes.mutate('gpu-1', (n) => {
      (n['metadata'] as { labels: Record<string, string> }).labels['kubelet'] = 'touched';
    });
    const f = await failure(
      core.patchNode(
        {
          name: 'gpu-1',
          body: { metadata: { resourceVersion: node.metadata?.resourceVersion, labels: { a: 'b' } } },
        },
        merge,
      ),
    );
    expect(f.code).toBe(409);
    expect(f.body).toMatchObject({ reason: 'Conflict', code: 409 });
    const fresh = await core.readNode({ name: 'gpu-1' });
    const ok = await core.patchNode(
      {
        name: 'gpu-1',
        body: { metadata: { resourceVersion: fresh.metadata?.resourceVersion, labels: { a: 'b' } } },
      },
      merge,
    );
    expect(ok.metadata?.labels?.['a']).toBe('b');
  });

  it('separates the status subresource from the main resource', async () => {
    const main = await core.patchNode(
      {
        name: 'gpu-1',
        body: { metadata: { labels: { x: '1' } }, status: { conditions: [{ type: 'Z', status: 'True' }] } },
      },
      smp,
    );
    expect(main.metadata?.labels?.['x']).toBe('1');
    expect(main.status?.conditions?.some((c) => c.type === 'Z')).toBe(false);
    const st = await core.patchNodeStatus(
      {
        name: 'gpu-1',
        body: {
          metadata: { labels: { y: '1' } },
          spec: { unschedulable: true },
          status: { conditions: [{ type: 'Z', status: 'True' }] },
        },
      },
      smp,
    );
    expect(st.metadata?.labels?.['y']).toBeUndefined();
    expect(st.spec?.unschedulable).toBeUndefined();
    expect(st.status?.conditions?.some((c) => c.type === 'Z')).toBe(true);
  });

  it('a patch that changes nothing bumps nothing', async () => {
    const rv = emu.resourceVersion;
    const nodeRv = (emu.nodes.get('gpu-1')!['metadata'] as { resourceVersion: string }).resourceVersion;
    const same = await core.patchNode({ name: 'gpu-1', body: { metadata: { labels: { team: 'a' } } } }, smp);
    expect(same.metadata?.resourceVersion).toBe(nodeRv);
    expect(emu.resourceVersion).toBe(rv);
  });

  it('rejects server-side apply and unknown content types with 415', async () => {
    const apply = await failure(
      core.patchNode(
        { name: 'gpu-1', body: { metadata: { labels: { a: 'b' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
    );
    expect(apply.code).toBe(415);
    const res = await fetch(`${emu.url}/api/v1/nodes/gpu-1`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(415);
  });

  it('deletes a node', async () => {
    const st = await core.deleteNode({ name: 'cpu-1' });
    expect(st.status).toBe('Success');
    expect(emu.nodes.get('cpu-1')).toBeUndefined();
    expect((await failure(core.deleteNode({ name: 'cpu-1' }))).code).toBe(404);
  });
});

describe('TokenReview', () => {
  it('authenticates a token for its audience, with the node-name extra', async () => {
    const auth = emu.kubeConfig().makeApiClient(AuthenticationV1Api);
    const token = emu.tokens.issue({
      serviceAccount: { namespace: 'osmo-validator', name: 'agent' },
      audiences: ['osmo-node-validator'],
      nodeName: 'gpu-1',
      podName: 'agent-abc',
      podUid: 'uid-1',
    });
    const ok = await auth.createTokenReview({
      body: { spec: { token, audiences: ['osmo-node-validator'] } },
    });
    expect(ok.status?.authenticated).toBe(true);
    expect(ok.status?.user?.username).toBe('system:serviceaccount:osmo-validator:agent');
    expect(ok.status?.user?.extra?.['authentication.kubernetes.io/node-name']).toEqual(['gpu-1']);
    expect(ok.status?.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['agent-abc']);
    expect(ok.status?.audiences).toEqual(['osmo-node-validator']);

    const wrongAud = await auth.createTokenReview({
      body: { spec: { token, audiences: ['something-else'] } },
    });
    expect(wrongAud.status?.authenticated).toBeFalsy();
    expect(wrongAud.status?.error).toMatch(/audience/);

    const unknown = await auth.createTokenReview({
      body: { spec: { token: 'forged', audiences: ['osmo-node-validator'] } },
    });
    expect(unknown.status?.authenticated).toBeFalsy();
    expect(unknown.status?.error).toBeTruthy();
    expect(emu.writes()).toBe(0);
  });

  it('rejects expired tokens and honours the override hook', async () => {
    let now = 1_000;
    const e2 = await startK8sEmulator({ now: () => now });
    try {
      const auth = e2.kubeConfig().makeApiClient(AuthenticationV1Api);
      const token = e2.tokens.issue({ username: 'u', expiresAt: 2_000 });
      expect((await auth.createTokenReview({ body: { spec: { token } } })).status?.authenticated).toBe(true);
      now = 2_000;
      expect((await auth.createTokenReview({ body: { spec: { token } } })).status?.error).toMatch(/expired/);
      e2.tokens.setOverride(() => ({ authenticated: true, user: { username: 'forced' } }));
      expect((await auth.createTokenReview({ body: { spec: { token } } })).status?.user?.username).toBe(
        'forced',
      );
    } finally {
      await e2.close();
    }
  });
});

describe('service-account issuer', () => {
  const SA = { namespace: 'osmo-validator', name: 'agent' };
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  /** Checks a JWS with node:crypto directly against one JWK (independent of the aggregator's verifier). */
  function verifiesWith(token: string, jwk: JsonWebKey): boolean {
    const [h, c, sig] = token.split('.') as [string, string, string];
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const options = jwk.kty === 'EC' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
    return verify('sha256', Buffer.from(`${h}.${c}`), options, Buffer.from(sig, 'base64url'));
  }

  it('issues projected tokens as signed JWTs with the claims of the apiserver, and serves discovery and JWKS', async () => {
    const kc = emu.kubeConfig();
    const config = (await kc
      .makeApiClient(WellKnownApi)
      .getServiceAccountIssuerOpenIDConfiguration()) as unknown;
    expect(config).toMatchObject({
      issuer: 'https://kubernetes.default.svc.cluster.local',
      jwks_uri: 'https://kubernetes.default.svc.cluster.local/openid/v1/jwks',
      id_token_signing_alg_values_supported: ['RS256'],
    });
    const jwks = (await kc.makeApiClient(OpenidApi).getServiceAccountIssuerOpenIDKeyset()) as unknown as {
      keys: JsonWebKey[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(emu.requestsBy('GET', '/openid/v1/jwks')).toHaveLength(1);

    const token = emu.tokens.issue({
      serviceAccount: SA,
      audiences: ['osmo-node-validator'],
      nodeName: 'gpu-1',
      podName: 'agent-abc',
      podUid: 'uid-1',
    });
    const [h, c] = token.split('.') as [string, string];
    expect(decode(h)).toEqual({ alg: 'RS256', kid: jwks.keys[0]!.kid });
    const claims = decode(c);
    expect(claims).toMatchObject({
      aud: ['osmo-node-validator'],
      iss: 'https://kubernetes.default.svc.cluster.local',
      sub: 'system:serviceaccount:osmo-validator:agent',
      'kubernetes.io': {
        namespace: 'osmo-validator',
        serviceaccount: { name: 'agent' },
        pod: { name: 'agent-abc', uid: 'uid-1' },
        node: { name: 'gpu-1' },
      },
    });
    expect(claims.exp - claims.iat).toBe(3600);
    expect(verifiesWith(token, jwks.keys[0]!)).toBe(true);
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${token.split('.')[2]}`;
    expect(verifiesWith(tampered, jwks.keys[0]!)).toBe(false);
    // Before 1.30 there is no node claim.
    const old = emu.tokens.issue({ serviceAccount: SA, nodeName: 'gpu-1', omitNodeName: true });
    expect(decode(old.split('.')[1]!)['kubernetes.io'].node).toBeUndefined();
  });

  it('rotates keys (old ones stay unless retired) and signs with ES256 when asked', async () => {
    const e2 = await startK8sEmulator({ signingAlgorithm: 'ES256', issuer: 'https://issuer.example' });
    try {
      const first = e2.tokens.issue({ serviceAccount: SA });
      const kid1 = e2.tokens.activeKey.kid;
      const kid2 = e2.tokens.rotateKey();
      const second = e2.tokens.issue({ serviceAccount: SA });
      const keys = e2.tokens.jwks().keys;
      expect(keys.map((k) => k.kid)).toEqual([kid1, kid2]);
      expect(keys.every((k) => k.kty === 'EC' && k.crv === 'P-256' && k.alg === 'ES256')).toBe(true);
      expect(decode(second.split('.')[0]!).kid).toBe(kid2);
      expect(verifiesWith(first, keys[0]!)).toBe(true);
      expect(verifiesWith(second, keys[1]!)).toBe(true);
      expect(verifiesWith(second, keys[0]!)).toBe(false);
      expect(decode(first.split('.')[1]!).iss).toBe('https://issuer.example');
      const kid3 = e2.tokens.rotateKey({ retireOld: true, algorithm: 'RS256' });
      expect(e2.tokens.jwks().keys.map((k) => [k.kid, k.alg])).toEqual([[kid3, 'RS256']]);
    } finally {
      await e2.close();
    }
  });

  it('answers 404 for discovery when it is turned off', async () => {
    const e2 = await startK8sEmulator({ issuerDiscovery: false });
    try {
      const res = await fetch(`${e2.url}/openid/v1/jwks`);
      expect(res.status).toBe(404);
    } finally {
      await e2.close();
    }
  });
});

describe('pods, storage classes, events, secrets', () => {
  it('gets a pod by namespace and name, 404 when absent', async () => {
    emu.pods.put(makePod('osmo-validator', 'agent-abc', 'gpu-1', 'pod-uid-1'));
    const pod = await core.readNamespacedPod({ namespace: 'osmo-validator', name: 'agent-abc' });
    expect(pod.spec?.nodeName).toBe('gpu-1');
    expect(pod.metadata?.uid).toBe('pod-uid-1');
    expect((await failure(core.readNamespacedPod({ namespace: 'osmo-validator', name: 'x' }))).code).toBe(
      404,
    );
  });

  it('lists storage classes with the default-class annotation', async () => {
    emu.storageClasses.put(makeStorageClass('local-path', true));
    emu.storageClasses.put(makeStorageClass('slow'));
    const storage = emu.kubeConfig().makeApiClient(StorageV1Api);
    const list = await storage.listStorageClass();
    const def = list.items.filter(
      (s) => s.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
    );
    expect(def.map((s) => s.metadata?.name)).toEqual(['local-path']);
  });

  it('creates and patches events, visible through events()', async () => {
    const ev = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'gpu-1.' },
        involvedObject: { kind: 'Node', name: 'gpu-1', uid: 'gpu-1' },
        reason: 'BaselineNotMet',
        message: 'gpu.driver failed',
        type: 'Warning',
        count: 1,
        source: { component: 'osmo-node-validator' },
      },
    });
    expect(ev.metadata?.name).toMatch(/^gpu-1\./);
    await core.patchNamespacedEvent(
      { namespace: 'default', name: ev.metadata!.name!, body: { count: 2 } },
      smp,
    );
    const all = emu.events();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ reason: 'BaselineNotMet', count: 2 });
    const listed = await core.listNamespacedEvent({ namespace: 'default' });
    expect(listed.items).toHaveLength(1);
    expect(emu.writes()).toBe(2);
  });

  it('secrets and configmaps: get, create, update with conflicts', async () => {
    const created = await core.createNamespacedSecret({
      namespace: 'osmo-validator',
      body: { metadata: { name: 'tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'YQ==' } },
    });
    const again = await failure(
      core.createNamespacedSecret({ namespace: 'osmo-validator', body: { metadata: { name: 'tls' } } }),
    );
    expect(again.code).toBe(409);
    expect(again.body['reason']).toBe('AlreadyExists');
    const updated = await core.replaceNamespacedSecret({
      namespace: 'osmo-validator',
      name: 'tls',
      body: { ...created, data: { 'tls.crt': 'Yg==' } },
    });
    expect(updated.data?.['tls.crt']).toBe('Yg==');
    const stale = await failure(
      core.replaceNamespacedSecret({
        namespace: 'osmo-validator',
        name: 'tls',
        body: { ...created, data: {} },
      }),
    );
    expect(stale.code).toBe(409);
    const cm = await core.createNamespacedConfigMap({
      namespace: 'osmo-validator',
      body: { metadata: { name: 'ca' }, data: { 'ca.crt': 'pem' } },
    });
    expect((await core.readNamespacedConfigMap({ namespace: 'osmo-validator', name: 'ca' })).data).toEqual(
      cm.data,
    );
  });

  it('leases: create, update with resourceVersion conflicts', async () => {
    const coord = emu.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: 'osmo-validator',
      body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const renewed = await coord.replaceNamespacedLease({
      namespace: 'osmo-validator',
      name: 'leader',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', leaseTransitions: 1 } },
    });
    expect(renewed.spec?.leaseTransitions).toBe(1);
    const stolen = await failure(
      coord.replaceNamespacedLease({
        namespace: 'osmo-validator',
        name: 'leader',
        body: { ...lease, spec: { holderIdentity: 'b' } },
      }),
    );
    expect(stolen.code).toBe(409);
    expect(emu.leases.get('leader', 'osmo-validator')?.['spec']).toMatchObject({ holderIdentity: 'a' });
  });

  it('lists a namespaced type across namespaces and routes faults by watch flag', async () => {
    emu.pods.put(makePod('a', 'p1', 'gpu-1'));
    emu.pods.put(makePod('b', 'p2', 'cpu-1'));
    const all = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=cpu-1' });
    expect(all.items.map((p) => p.metadata?.name)).toEqual(['p2']);
    emu.inject({ path: '/api/v1/pods', watch: true, status: 503 });
    expect((await core.listPodForAllNamespaces()).items).toHaveLength(2);
    const watchRes = await fetch(`${emu.url}/api/v1/pods?watch=true`);
    expect(watchRes.status).toBe(503);
  });
});
