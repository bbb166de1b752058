// The Node informer's watch economy against the emulator: a quiet watch is not an error (no LIST), and a
// watch that fails right after every good LIST (RBAC without `watch`) backs off instead of looping.
import { Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeInformer } from '../../../aggregator/k8s/informer.js';
import { type K8sEmulator, makeNode } from '../../../testing/k8s-emulator/index.js';
import { memoryLogger, startEmulator, waitFor } from '../reconcile/k8s-setup.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const lists = (emu: K8sEmulator) =>
  emu.requestsBy('GET', '/api/v1/nodes').filter((r) => r.query['watch'] !== 'true');
const watches = (emu: K8sEmulator) =>
  emu.requestsBy('GET', '/api/v1/nodes').filter((r) => r.query['watch'] === 'true');

/**
 * Shrink client-node's Watch inactivity timeout (30 s, set in its constructor) to `capMs`, so a test sees in
 * a fraction of a second what a quiet cluster sees every 30 s. Records what the informer asked for.
 */
function capWatchTimeout(capMs: number): number[] {
  const asked: number[] = [];
  const values = new WeakMap<object, number>();
  Object.defineProperty(Watch.prototype, 'requestTimeoutMs', {
    configurable: true,
    get(this: object) {
      return Math.min(values.get(this) ?? 30_000, capMs);
    },
    set(this: object, v: number) {
      values.set(this, v);
      asked.push(v);
    },
  });
  cleanup.push(() => {
    delete (Watch.prototype as unknown as Record<string, unknown>)['requestTimeoutMs'];
  });
  return asked;
}

async function startInformer(emu: K8sEmulator, watchdogMs: number, relistBaseMs = 20) {
  const { lines, logger } = memoryLogger();
  const informer = new NodeInformer({ kubeConfig: emu.kubeConfig(), watchdogMs, logger, relistBaseMs });
  cleanup.push(() => informer.stop());
  await informer.start();
  return { informer, lines };
}

/** Pin client-node's Watch timeout at `ms` whatever the informer asks for (a hang lasts this long). */
function pinWatchTimeout(ms: number): void {
  Object.defineProperty(Watch.prototype, 'requestTimeoutMs', {
    configurable: true,
    get: () => ms,
    set: () => undefined,
  });
  cleanup.push(() => {
    delete (Watch.prototype as unknown as Record<string, unknown>)['requestTimeoutMs'];
  });
}

describe('node informer watch', () => {
  it('the watchdog restarts a watch the server accepted but never answered', async () => {
    pinWatchTimeout(30_000);
    // Bookmarks keep a healthy watch within the 200 ms watchdog.
    const emu = await startEmulator([makeNode('n1')], { bookmarkIntervalMs: 50 });
    cleanup.push(() => emu.close());
    const hangMs = 1500;
    const hang = emu.inject({ path: '/api/v1/nodes', watch: true, delayMs: hangMs });
    const { informer, lines } = await startInformer(emu, 200);
    await waitFor(() => hang.hits === 1, 1000, 'the first watch');
    const hungAt = Date.now();
    // Without the watchdog this watch() stays pending until the client's timeout (here 30 s).
    await waitFor(() => watches(emu).length >= 2, 1000, 'a second watch before the hung one answers');
    expect(lists(emu).length).toBe(2);
    expect(lines.some((l) => l.level === 'warn' && /watchdog/.test(l.msg ?? ''))).toBe(true);
    emu.nodes.put(makeNode('n2'));
    await waitFor(() => informer.nodeNames().includes('n2'), 1000, 'n2 through the new watch');
    // The hung request is answered late: the informer drops that watch (older generation).
    await waitFor(() => Date.now() - hungAt > hangMs + 100, hangMs + 500, 'the hung watch to answer');
    await waitFor(() => emu.openWatches() === 1, 1000, 'the late watch to be closed');
  });

  it('asks the client to wait longer than the watchdog before calling a quiet watch dead', async () => {
    const asked = capWatchTimeout(60_000);
    const emu = await startEmulator([makeNode('n1')]);
    cleanup.push(() => emu.close());
    await startInformer(emu, 45_000);
    // The constructor sets the client's 30 s default first; the informer's own value comes after it.
    await waitFor(() => asked.length >= 2, 2000, 'the watch');
    expect(asked[asked.length - 1]).toBeGreaterThanOrEqual(45_000);
  });

  it('a quiet watch longer than the client timeout causes no LIST, and later changes still arrive', async () => {
    capWatchTimeout(150);
    const emu = await startEmulator([makeNode('n1')]);
    cleanup.push(() => emu.close());
    const { informer } = await startInformer(emu, 60_000);
    expect(informer.synced()).toBe(true);
    // No events, no bookmarks: the client times out several times over.
    await waitFor(() => watches(emu).length >= 4, 3000, 'several quiet watches');
    expect(lists(emu).length).toBe(1);
    // Each new watch resumes from the last resourceVersion.
    const rvs = watches(emu).map((r) => r.query['resourceVersion']);
    expect(rvs.every((rv) => rv !== undefined && rv !== '0')).toBe(true);
    emu.nodes.put(makeNode('n2'));
    await waitFor(() => informer.nodeNames().includes('n2'), 3000, 'n2 through the watch');
    expect(lists(emu).length).toBe(1);
  });

  it('a watch refused with 403 after every good LIST backs off exponentially', async () => {
    const emu = await startEmulator([makeNode('n1')]);
    cleanup.push(() => emu.close());
    emu.inject({ path: '/api/v1/nodes', watch: true, status: 403, times: Number.POSITIVE_INFINITY });
    const started = Date.now();
    const { informer } = await startInformer(emu, 60_000, 20);
    expect(informer.synced()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const elapsed = Date.now() - started;
    // Without backoff (delay reset by each good LIST) this is ~50+ LISTs in 1.5 s; with doubling from 20 ms
    // (full jitter, mean 0.75 × ceiling) at most about log2(1500/20) + 2.
    expect(lists(emu).length).toBeGreaterThanOrEqual(3);
    expect(lists(emu).length).toBeLessThanOrEqual(10);
    expect(watches(emu).length).toBeLessThanOrEqual(lists(emu).length);
    expect(elapsed).toBeLessThan(5000);
    expect(informer.synced()).toBe(true); // lists succeed: the cache stays usable
  });

  it('a healthy watch (events delivered) resets the backoff', async () => {
    const emu = await startEmulator([makeNode('n1')]);
    cleanup.push(() => emu.close());
    const fault = emu.inject({ path: '/api/v1/nodes', watch: true, status: 403, times: 4 });
    const { informer } = await startInformer(emu, 60_000, 20);
    await waitFor(() => fault.remaining === 0, 4000, 'the refused watches');
    await waitFor(() => watches(emu).some((r) => r.status === 200), 4000, 'a watch that works');
    emu.nodes.put(makeNode('n2'));
    await waitFor(() => informer.nodeNames().includes('n2'), 3000, 'n2');
    // A later clean close resumes at once (no backoff left): n3 arrives promptly.
    emu.dropWatches();
    emu.nodes.put(makeNode('n3'));
    const before = Date.now();
    await waitFor(() => informer.nodeNames().includes('n3'), 3000, 'n3');
    expect(Date.now() - before).toBeLessThan(1000);
  });
});
