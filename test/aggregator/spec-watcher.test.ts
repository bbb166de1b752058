// Live spec reload: a changed valid spec is put in force and stored reports are evaluated again; a changed
// invalid or unreadable file leaves the last good spec in force and is reported (readyz, metrics, log,
// Kubernetes Event on the aggregator's Pod).
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../aggregator/aggregator-command.js';
import { createMetrics } from '../../aggregator/server/metrics.js';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import {
  podEventRecorder,
  readSpecFile,
  type SpecEventRecorder,
  type SpecLogger,
  SpecWatcher,
} from '../../aggregator/spec-watcher.js';
import { NodeStore } from '../../aggregator/store.js';
import type { Report } from '../../report/schema.js';
import { BUILTIN_SPEC_URL } from '../../spec/load.js';
import { type K8sEmulator, makePod, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { makeApp, postReport, RecordingSink, sampleReport } from './harness.js';

const BASE = readFileSync(BUILTIN_SPEC_URL, 'utf8');
const DRIVER_LINE = 'gpu: { min: 535.216.03 }';
const REVISION_LINE = 'revision: "2025.1"';
if (!BASE.includes(DRIVER_LINE) || !BASE.includes(REVISION_LINE)) {
  throw new Error('spec/baseline.yaml changed: update the lines this test edits');
}
/** The baseline with a higher driver minimum for gpu nodes and another revision. */
const RAISED = BASE.replace(DRIVER_LINE, 'gpu: { min: 550.54.15 }').replace(
  REVISION_LINE,
  'revision: "2025.2-test"',
);
/** Fails validation: a driver minimum that is not a version. */
const INVALID = BASE.replace(DRIVER_LINE, 'gpu: { min: not-a-version }').replace(
  REVISION_LINE,
  'revision: "2025.3-broken"',
);

function gpuReport(node: string): Report {
  const base = sampleReport(node);
  return {
    ...base,
    facts: {
      ...base.facts,
      gpu: {
        driverVersion: '535.216.03',
        cudaVersion: '12.6',
        devices: [
          { name: 'NVIDIA A100', uuid: `GPU-${node}`, memoryMiB: 81920, pciBusId: null, migMode: null },
        ],
        containerToolkit: { binary: 'nvidia-ctk', version: '1.17.0' },
      },
    },
  };
}

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

function captureLogger(): SpecLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: { events?: SpecEventRecorder | null; batchSize?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'onv-spec-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, BASE);
  const { spec, hash } = await readSpecFile(file);
  const evaluator = createSpecEvaluator(spec);
  const sink = new RecordingSink();
  const store = new NodeStore({ staleAfterMs: 15 * 60_000, sink });
  const metrics = createMetrics(store, { defaultMetrics: false });
  const logger = captureLogger();
  const watcher = new SpecWatcher({
    file,
    initialHash: hash,
    evaluator,
    store,
    intervalMs: 30_000,
    metrics,
    logger,
    events: options.events ?? null,
    batchSize: options.batchSize,
  });
  cleanups.push(() => watcher.stop());
  const t = await makeApp({ evaluator, store, metrics, specError: () => watcher.error() });
  cleanups.push(() => t.app.close());
  const write = (text: string) => {
    // As the kubelet does: the new content appears at once (rename), never half-written.
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const revision = async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/spec' });
    return (res.json() as { metadata: { revision: string } }).metadata.revision;
  };
  const verdict = async (node: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/${node}` });
    return (res.json() as { verdict: string }).verdict;
  };
  const readyz = async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };
  const metric = async (name: string) => {
    const text = await metrics.registry.metrics();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { file, dir, t, sink, store, watcher, logger, write, revision, verdict, readyz, metric };
}

describe('spec reload: a changed valid spec', () => {
  it('is put in force; stored nodes are re-evaluated and changed verdicts reach the sink', async () => {
    const s = await setup();
    expect((await postReport(s.t.app, gpuReport('gpu-1'))).statusCode).toBe(202);
    expect((await postReport(s.t.app, sampleReport('cpu-1'))).statusCode).toBe(202);
    expect(await s.verdict('gpu-1')).toBe('pass');
    expect(await s.revision()).toBe('2025.1');
    s.sink.updates.length = 0;

    s.write(RAISED);
    const outcome = await s.watcher.reload();

    expect(outcome).toMatchObject({ status: 'applied', revision: '2025.2-test', evaluated: 2, notified: 1 });
    expect(await s.revision()).toBe('2025.2-test');
    expect(await s.verdict('gpu-1')).toBe('fail');
    expect(await s.verdict('cpu-1')).toBe('pass');
    // Only the node whose outcome changed goes to the reconciler, as a new report's state would.
    expect(s.sink.updates).toHaveLength(1);
    const state = s.sink.updates[0];
    expect(state).toMatchObject({ node: 'gpu-1', role: 'gpu', verdict: 'fail', stale: false });
    expect(state?.result?.spec.revision).toBe('2025.2-test');
    expect(state?.result?.checks.find((c) => c.id === 'gpu.driver')?.status).toBe('fail');
    expect(await s.metric('osmo_validator_spec_reloads_total')).toBe(1);
    expect(await s.metric('osmo_validator_spec_valid')).toBe(1);
    expect((await s.readyz()).body).toEqual({ status: 'ready' });
    // A report arriving now is evaluated against the new spec too.
    const res = await postReport(s.t.app, gpuReport('gpu-2'));
    expect(res.json()).toMatchObject({ verdict: 'fail', failingChecks: ['gpu.driver'] });
  });

  it('keeps stale nodes stale (unknown) and does not tell the sink about them', async () => {
    const s = await setup();
    s.store.accept(
      gpuReport('gpu-old'),
      createSpecEvaluator((await readSpecFile(s.file)).spec).evaluate(gpuReport('gpu-old'), undefined),
      Date.now() - 60 * 60_000,
    );
    expect(await s.verdict('gpu-old')).toBe('unknown');
    s.sink.updates.length = 0;

    s.write(RAISED);
    expect(await s.watcher.reload()).toMatchObject({ status: 'applied', evaluated: 1, notified: 0 });
    expect(s.sink.updates).toHaveLength(0);
    const detail = (await s.t.app.inject({ method: 'GET', url: '/api/v1/nodes/gpu-old' })).json();
    expect(detail).toMatchObject({ verdict: 'unknown', stale: true, evaluatedVerdict: 'fail' });
  });

  it('re-evaluates in batches and lets the event loop run between them', async () => {
    const s = await setup({ batchSize: 7 });
    for (let i = 0; i < 40; i++) {
      expect((await postReport(s.t.app, gpuReport(`gpu-${i}`))).statusCode).toBe(202);
    }
    s.sink.updates.length = 0;
    s.write(RAISED);
    // Count event-loop turns, and note the count each time the sink hears about a node: within one batch
    // the count cannot change; between batches other callbacks must have run.
    let turns = 0;
    let stop = false;
    const spin = () => {
      if (stop) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const turnsAtUpdate: number[] = [];
    const record = s.sink.update.bind(s.sink);
    s.sink.update = (state) => {
      turnsAtUpdate.push(turns);
      record(state);
    };
    const outcome = await s.watcher.reload();
    stop = true;
    expect(outcome).toMatchObject({ status: 'applied', evaluated: 40, notified: 40 });
    // 40 nodes in batches of 7 = 6 batches, each seen at a different turn of the event loop.
    expect(new Set(turnsAtUpdate).size).toBe(6);
    expect(new Set(s.sink.updates.map((u) => u.node)).size).toBe(40);
    expect(s.sink.updates.every((u) => u.verdict === 'fail')).toBe(true);
  });

  it('is picked up by the poll timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = await setup();
    s.watcher.start();
    s.write(RAISED);
    expect(await s.revision()).toBe('2025.1');
    vi.advanceTimersByTime(30_000);
    // Reloads run in order: this one waits for the poll's reload, then finds nothing new.
    expect(await s.watcher.reload()).toEqual({ status: 'unchanged' });
    expect(await s.revision()).toBe('2025.2-test');
  });
});

describe('spec reload: unchanged content', () => {
  it('re-evaluates nothing and tells the sink nothing', async () => {
    const s = await setup();
    await postReport(s.t.app, gpuReport('gpu-1'));
    s.sink.updates.length = 0;
    const evaluate = vi.spyOn(s.store, 'reevaluate');

    expect(await s.watcher.reload()).toEqual({ status: 'unchanged' });
    s.write(BASE); // rewritten, same bytes
    expect(await s.watcher.reload()).toEqual({ status: 'unchanged' });
    // Only a comment changed: the same spec, nothing to evaluate again.
    s.write(`${BASE}\n# touched by an operator\n`);
    expect(await s.watcher.reload()).toMatchObject({ status: 'same-spec', revision: '2025.1' });

    expect(evaluate).not.toHaveBeenCalled();
    expect(s.sink.updates).toHaveLength(0);
    expect(await s.metric('osmo_validator_spec_reloads_total')).toBe(0);
  });
});

describe('spec reload: a changed invalid or unreadable file', () => {
  it('keeps the last good spec, reports degraded readiness, metrics and a log line; recovers when fixed', async () => {
    const s = await setup();
    await postReport(s.t.app, gpuReport('gpu-1'));
    s.sink.updates.length = 0;

    s.write(INVALID);
    const outcome = await s.watcher.reload();
    expect(outcome.status).toBe('invalid');
    const message = outcome.status === 'invalid' ? outcome.error : '';
    expect(message.startsWith(`${s.file}: `)).toBe(true);
    expect(message).toMatch(/gpu.*not-a-version|not-a-version.*gpu/s);

    expect(await s.revision()).toBe('2025.1');
    expect(await s.verdict('gpu-1')).toBe('pass');
    expect(s.sink.updates).toHaveLength(0);
    const ready = await s.readyz();
    expect(ready).toEqual({ status: 200, body: { status: 'degraded', specError: message } });
    expect(await s.metric('osmo_validator_spec_reload_errors_total')).toBe(1);
    expect(await s.metric('osmo_validator_spec_valid')).toBe(0);
    expect(s.logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(s.logger.lines.find((l) => l.level === 'error')?.obj).toMatchObject({ specError: message });
    // Reports are still accepted and evaluated against the spec in force.
    expect((await postReport(s.t.app, gpuReport('gpu-2'))).json()).toMatchObject({ verdict: 'pass' });

    // The same broken content again is not a new error.
    expect(await s.watcher.reload()).toEqual({ status: 'unchanged' });
    expect(await s.metric('osmo_validator_spec_reload_errors_total')).toBe(1);

    // Fixed with a new valid spec: in force, ready, gauge back to 1.
    s.write(RAISED);
    expect(await s.watcher.reload()).toMatchObject({ status: 'applied', revision: '2025.2-test' });
    expect(await s.readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    expect(await s.metric('osmo_validator_spec_valid')).toBe(1);
    expect(await s.verdict('gpu-1')).toBe('fail');
  });

  it('treats a deleted file like an invalid one and recovers when the good content returns', async () => {
    const s = await setup();
    await postReport(s.t.app, gpuReport('gpu-1'));
    s.sink.updates.length = 0;
    rmSync(s.file);

    const outcome = await s.watcher.reload();
    expect(outcome).toEqual({ status: 'invalid', error: `${s.file}: cannot read the spec (ENOENT)` });
    expect((await s.readyz()).body).toEqual({
      status: 'degraded',
      specError: `${s.file}: cannot read the spec (ENOENT)`,
    });
    expect(await s.metric('osmo_validator_spec_valid')).toBe(0);
    expect(await s.watcher.reload()).toEqual({ status: 'unchanged' });
    expect(await s.metric('osmo_validator_spec_reload_errors_total')).toBe(1);
    expect(await s.revision()).toBe('2025.1');

    s.write(BASE);
    expect(await s.watcher.reload()).toEqual({ status: 'recovered', revision: '2025.1' });
    expect((await s.readyz()).body).toEqual({ status: 'ready' });
    expect(await s.metric('osmo_validator_spec_valid')).toBe(1);
    expect(s.sink.updates).toHaveLength(0);
  });

  it('treats an unreadable path (a directory) like an invalid file', async () => {
    const s = await setup();
    rmSync(s.file);
    mkdirSync(s.file);
    const outcome = await s.watcher.reload();
    expect(outcome).toEqual({ status: 'invalid', error: `${s.file}: cannot read the spec (EISDIR)` });
    expect(await s.revision()).toBe('2025.1');
  });
});

describe('spec reload: Kubernetes Events on the aggregator Pod (emulator)', () => {
  let emu: K8sEmulator;
  const NS = 'osmo-node-validator';
  const POD = 'osmo-node-validator-aggregator-7d9f-abcde';

  async function withEmulator(env: NodeJS.ProcessEnv) {
    emu = await startK8sEmulator();
    cleanups.push(() => emu.close());
    emu.pods.put(makePod(NS, POD, 'cp-1', 'pod-uid-1'));
    const logger = captureLogger();
    const events = podEventRecorder({
      kubeConfig: emu.kubeConfig(),
      env,
      component: 'osmo-node-validator',
      logger,
    });
    return { events, logger };
  }

  it('records a Warning Event for an invalid spec and a Normal one when it is valid again', async () => {
    const { events } = await withEmulator({ POD_NAME: POD, POD_NAMESPACE: NS, POD_UID: 'pod-uid-1' });
    expect(events).not.toBeNull();
    const s = await setup({ events });

    s.write(INVALID);
    const outcome = await s.watcher.reload();
    await s.watcher.eventsSettled();
    const warnings = emu.events(NS).filter((e) => e['type'] === 'Warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      reason: 'SpecInvalid',
      involvedObject: { kind: 'Pod', name: POD, namespace: NS, uid: 'pod-uid-1' },
      source: { component: 'osmo-node-validator' },
    });
    expect(String(warnings[0]?.['message'])).toContain(outcome.status === 'invalid' ? outcome.error : '?');

    s.write(BASE);
    expect((await s.watcher.reload()).status).toBe('recovered');
    await s.watcher.eventsSettled();
    const normal = emu.events(NS).filter((e) => e['type'] === 'Normal');
    expect(normal).toHaveLength(1);
    expect(normal[0]).toMatchObject({ reason: 'SpecValid', involvedObject: { kind: 'Pod', name: POD } });
  });

  it('skips events (debug log) when POD_NAME/POD_NAMESPACE are not set', async () => {
    const { events, logger } = await withEmulator({});
    expect(events).toBeNull();
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'debug' })]);
  });

  it('a failing event write is logged, never thrown', async () => {
    const { events, logger } = await withEmulator({ POD_NAME: POD, POD_NAMESPACE: NS });
    emu.inject({ method: 'POST', path: /events$/, status: 500, times: Infinity });
    await expect(events?.record('Warning', 'SpecInvalid', 'x')).resolves.toBeUndefined();
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'warn' })]);
  });
});

describe('aggregator command: --spec-poll and SIGHUP', () => {
  async function runCommand(argv: string[], body: (url: string) => Promise<void>) {
    const stop = new AbortController();
    let log = '';
    let err = '';
    let failure: unknown;
    const code = await run(argv, {
      env: {},
      signal: stop.signal,
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
      logStream: new Writable({
        write(chunk, _e, cb) {
          log += String(chunk);
          cb();
        },
      }),
      onListening: (url) => {
        body(url).then(
          () => stop.abort(),
          (e: unknown) => {
            failure = e;
            stop.abort();
          },
        );
      },
    });
    if (failure) throw failure;
    return { code, log, err };
  }

  /** Polls `probe` until it returns true (a reload happens asynchronously after the signal). */
  async function eventually(probe: () => Promise<boolean>) {
    for (let i = 0; i < 100; i++) {
      if (await probe()) return;
      await delay(20);
    }
    throw new Error('condition not met within 2 s');
  }

  it('documents --spec-poll, SIGHUP and the degraded readiness in --help, and checks --spec-poll', async () => {
    let out = '';
    const stdout = (t: string) => {
      out += t;
    };
    expect(await run(['--help'], { env: {}, stdout })).toBe(0);
    expect(out).toContain('--spec-poll DURATION');
    expect(out).toContain('SIGHUP');
    expect(out).toContain('"status":"degraded"');
    for (const [value, message] of [
      ['soon', /--spec-poll: invalid duration/],
      ['10ms', /--spec-poll: 10ms is out of range/],
    ] as const) {
      let err = '';
      const stderr = (t: string) => {
        err += t;
      };
      const code = await run(['--insecure-http', '--no-auth', '--spec-poll', value], { env: {}, stderr });
      expect(code).toBe(2);
      expect(err).toMatch(message);
    }
  });

  it('SIGHUP reloads --spec now: a valid change is served, an invalid one degrades readiness', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onv-spec-cmd-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, BASE);
    const argv = ['--insecure-http', '--no-auth', '--read-open', '--listen', '127.0.0.1:0', '--spec', file];
    const r = await runCommand(argv, async (url) => {
      const revision = async () =>
        ((await (await fetch(`${url}/api/v1/spec`)).json()) as { metadata: { revision: string } }).metadata
          .revision;
      expect(await revision()).toBe('2025.1');
      writeFileSync(file, RAISED);
      process.emit('SIGHUP', 'SIGHUP');
      await eventually(async () => (await revision()) === '2025.2-test');

      writeFileSync(file, INVALID);
      process.emit('SIGHUP', 'SIGHUP');
      await eventually(async () => {
        const res = await fetch(`${url}/readyz`);
        const body = (await res.json()) as { status: string; specError?: string };
        return res.status === 200 && body.status === 'degraded' && body.specError?.startsWith(file) === true;
      });
      expect(await revision()).toBe('2025.2-test');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^osmo_validator_spec_valid 0$/m);
      expect(metrics).toMatch(/^osmo_validator_spec_reload_errors_total 1$/m);
      expect(metrics).toMatch(/^osmo_validator_spec_reloads_total 1$/m);
    });
    expect(r.code).toBe(0);
    expect(r.log).toContain('spec reload failed: the last good spec stays in force');
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });

  it('with the built-in spec, SIGHUP only logs that there is nothing to reload', async () => {
    const r = await runCommand(
      ['--insecure-http', '--no-auth', '--read-open', '--listen', '127.0.0.1:0'],
      async (url) => {
        process.emit('SIGHUP', 'SIGHUP');
        expect((await (await fetch(`${url}/readyz`)).json()) as unknown).toEqual({ status: 'ready' });
      },
    );
    expect(r.code).toBe(0);
    expect(r.log).toContain('nothing to reload');
  });
});
