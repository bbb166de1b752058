import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';

let emu: K8sEmulator;
let core: CoreV1Api;

beforeEach(async () => {
  emu = await startK8sEmulator({ historyLimit: 50 });
  core = emu.kubeConfig().makeApiClient(CoreV1Api);
  emu.nodes.put(makeNode('n1'));
});

afterEach(async () => {
  await emu.close();
});

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** Resolves when `pred` holds, polling on the event loop (bounded). */
async function until(pred: () => boolean, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Seen {
  type: string;
  name: string | undefined;
  rv: string | undefined;
  code?: number;
}

async function watchNodes(rv: string | undefined, extra: Record<string, string> = {}) {
  const seen: Seen[] = [];
  let done: unknown = 'open';
  const w = new Watch(emu.kubeConfig());
  const ctl = await w.watch(
    '/api/v1/nodes',
    { ...(rv !== undefined ? { resourceVersion: rv } : {}), allowWatchBookmarks: true, ...extra },
    (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) => {
      seen.push({
        type,
        name: obj.metadata?.name,
        rv: obj.metadata?.resourceVersion,
        ...(obj.code ? { code: obj.code } : {}),
      });
    },
    (err) => {
      done = err ?? null;
    },
  );
  return { seen, ctl, isDone: () => done !== 'open', error: () => done };
}

describe('watch', () => {
  it('streams ADDED/MODIFIED/DELETED after the listed resourceVersion, and BOOKMARKs', async () => {
    const list = await core.listNode();
    const w = await watchNodes(list.metadata?.resourceVersion);
    await until(() => emu.openWatches() === 1, 'watch open');
    emu.nodes.put(makeNode('n2'));
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { a: 'b' } } } }, smp);
    await core.deleteNode({ name: 'n2' });
    emu.sendBookmarks();
    await until(() => w.seen.length === 4, 'four events');
    expect(w.seen.map((e) => `${e.type} ${e.name ?? ''}`)).toEqual([
      'ADDED n2',
      'MODIFIED n1',
      'DELETED n2',
      'BOOKMARK ',
    ]);
    expect(w.seen[3]!.rv).toBe(emu.resourceVersion);
    w.ctl.abort();
  });

  it('replays history from an older resourceVersion and sends current objects without one', async () => {
    const rv = emu.resourceVersion;
    emu.nodes.put(makeNode('n2'));
    const replay = await watchNodes(rv);
    const fresh = await watchNodes(undefined);
    await until(() => replay.seen.length === 1 && fresh.seen.length === 2, 'initial events');
    expect(replay.seen.map((e) => e.name)).toEqual(['n2']);
    expect(fresh.seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED n1', 'ADDED n2']);
    replay.ctl.abort();
    fresh.ctl.abort();
  });

  it('label-selected watches see objects enter and leave the selection', async () => {
    const w = await watchNodes(emu.resourceVersion, { labelSelector: 'pick=yes' });
    await until(() => emu.openWatches() === 1, 'watch open');
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { pick: 'yes' } } } }, smp);
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { other: '1' } } } }, smp);
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { pick: null } } } }, smp);
    await until(() => w.seen.length === 3, 'three events');
    expect(w.seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    w.ctl.abort();
  });

  it('answers an expired resourceVersion with a 410 Expired Status event and ends the stream', async () => {
    const old = emu.resourceVersion;
    for (let i = 0; i < 60; i++)
      emu.nodes.mutate('n1', (n) => Object.assign(n, { spec: { podCIDR: `10.0.${i}.0/24` } }));
    const w = await watchNodes(old);
    await until(() => w.isDone(), 'stream end');
    expect(w.seen).toEqual([{ type: 'ERROR', name: undefined, rv: undefined, code: 410 }]);
    const raw = await fetch(`${emu.url}/api/v1/nodes?watch=true&resourceVersion=${old}`);
    const line = JSON.parse((await raw.text()).trim()) as { type: string; object: Record<string, unknown> };
    expect(line.type).toBe('ERROR');
    expect(line.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('can refuse an expired watch with HTTP 410 instead (expiredWatchAs: http)', async () => {
    const e2 = await startK8sEmulator({ expiredWatchAs: 'http' });
    try {
      e2.nodes.put(makeNode('a'));
      const old = e2.resourceVersion;
      e2.nodes.put(makeNode('b'));
      e2.compactHistory();
      let err: unknown = 'open';
      await new Watch(e2.kubeConfig()).watch(
        '/api/v1/nodes',
        { resourceVersion: old },
        () => {},
        (e) => {
          err = e;
        },
      );
      await until(() => err !== 'open', 'watch refused');
      expect((err as { statusCode?: number }).statusCode).toBe(410);
      expect(e2.requestsBy('GET', '/api/v1/nodes')[0]?.status).toBe(410);
    } finally {
      await e2.close();
    }
  });

  it('dropWatches ends open streams; stallWatches keeps them open but silent', async () => {
    const dropped = await watchNodes(emu.resourceVersion);
    await until(() => emu.openWatches() === 1, 'watch open');
    expect(emu.dropWatches()).toBe(1);
    await until(() => dropped.isDone(), 'dropped stream end');
    expect(dropped.error()).toBeNull();

    const stalled = await watchNodes(emu.resourceVersion);
    await until(() => emu.openWatches() === 1, 'second watch open');
    emu.stallWatches();
    emu.nodes.put(makeNode('n3'));
    const healthy = await watchNodes(undefined);
    await until(() => healthy.seen.length === 2, 'healthy watch sees both nodes');
    expect(stalled.seen).toEqual([]);
    expect(stalled.isDone()).toBe(false);
    stalled.ctl.abort();
    healthy.ctl.abort();
  });

  it('timeoutSeconds ends the watch', async () => {
    const w = await watchNodes(emu.resourceVersion, { timeoutSeconds: '1' });
    await until(() => w.isDone(), 'timeout', 3_000);
    expect(w.error()).toBeNull();
  });
});

describe('informer', () => {
  it('lists, then sees label changes and deletions, and relists after the history is compacted', async () => {
    const kc = emu.kubeConfig();
    const api = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/nodes', () => api.listNode());
    const updates: string[] = [];
    informer.on('update', (n: V1Node) =>
      updates.push(`${n.metadata?.name}:${n.metadata?.labels?.['x'] ?? '-'}`),
    );
    await informer.start();
    expect(informer.list().map((n) => n.metadata?.name)).toEqual(['n1']);
    await until(() => emu.openWatches() === 1, 'informer watch');
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { x: '1' } } } }, smp);
    await until(() => updates.includes('n1:1'), 'informer update');

    // A change the informer missed (stalled stream), then history lost: the re-watch gets 410 and the
    // informer lists again, which brings the missed change.
    emu.stallWatches();
    emu.nodes.mutate('n1', (n) =>
      Object.assign(n, { metadata: { ...(n['metadata'] as object), labels: { x: '2' } } }),
    );
    emu.compactHistory();
    emu.reset();
    emu.dropWatches();
    await until(() => updates.includes('n1:2'), 'update through relist', 5_000);
    expect(emu.requestsBy('GET', '/api/v1/nodes').filter((r) => r.query['watch'] === undefined)).toHaveLength(
      1,
    );
    await until(() => emu.openWatches() === 1, 'informer re-watch', 5_000);
    emu.nodes.delete('n1');
    await until(() => informer.list().length === 0, 'informer delete');
    await informer.stop();
  });
});

describe('faults and observation', () => {
  it('429 with Retry-After surfaces to the client as an error with code 429', async () => {
    const fault = emu.inject({
      method: 'PATCH',
      path: /^\/api\/v1\/nodes\//,
      status: 429,
      retryAfterSeconds: 3,
    });
    let caught: unknown;
    try {
      await core.patchNode({ name: 'n1', body: { metadata: { labels: { a: 'b' } } } }, smp);
    } catch (err) {
      caught = err;
    }
    const err = caught as { code?: number; headers?: Record<string, string>; body?: unknown };
    expect(err.code).toBe(429);
    expect(err.headers?.['retry-after']).toBe('3');
    expect(fault.hits).toBe(1);
    const ok = await core.patchNode({ name: 'n1', body: { metadata: { labels: { a: 'b' } } } }, smp);
    expect(ok.metadata?.labels?.['a']).toBe('b');
    expect(emu.writes()).toBe(2);
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/n1').map((r) => r.status)).toEqual([429, 200]);
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/n1')[0]?.contentType).toBe(
      'application/strategic-merge-patch+json',
    );
  });

  it('conflictOnFirstTry, 500s for a number of times, and delays', async () => {
    emu.conflictOnFirstTry(1);
    await expect(
      core.patchNode({ name: 'n1', body: { metadata: { labels: { a: 'b' } } } }, smp),
    ).rejects.toMatchObject({ code: 409 });
    emu.inject({ path: '/api/v1/nodes', status: 500, times: 2 });
    await expect(core.listNode()).rejects.toMatchObject({ code: 500 });
    await expect(core.listNode()).rejects.toMatchObject({ code: 500 });
    expect((await core.listNode()).items).toHaveLength(1);
    emu.inject({ path: '/api/v1/nodes/n1', delayMs: 50 });
    const t0 = performance.now();
    await core.readNode({ name: 'n1' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it('setUnreachable refuses connections until turned off', async () => {
    emu.setUnreachable(true);
    await expect(core.listNode()).rejects.toThrow();
    emu.setUnreachable(false);
    expect((await core.listNode()).items).toHaveLength(1);
  });

  it('requireToken answers 401 to other tokens', async () => {
    const e2 = await startK8sEmulator({ requireToken: true, token: 'right' });
    try {
      expect((await e2.kubeConfig().makeApiClient(CoreV1Api).listNode()).items).toEqual([]);
      const res = await fetch(`${e2.url}/api/v1/nodes`, { headers: { Authorization: 'Bearer wrong' } });
      expect(res.status).toBe(401);
    } finally {
      await e2.close();
    }
  });

  it('writes a kubeconfig file the client can load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emu-kc-'));
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(await emu.writeKubeconfigFile(dir));
      const list = await kc.makeApiClient(CoreV1Api).listNode();
      expect(list.items.map((n) => n.metadata?.name)).toEqual(['n1']);
      expect(emu.requests.at(-1)?.token).toBe(emu.token);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
