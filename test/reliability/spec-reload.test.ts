// A spec file edited to something invalid while the aggregator runs: the last good spec stays in force
// (reports still accepted and evaluated against it), the error shows on /readyz, in metrics and as a
// Warning Event on the aggregator's Pod; a fixed file is picked up again.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../aggregator/server/metrics.js';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { podEventRecorder, readSpecFile, SpecWatcher } from '../../aggregator/spec-watcher.js';
import { NodeStore } from '../../aggregator/store.js';
import { startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { makeApp, postReport, sampleReport } from '../aggregator/harness.js';
import { memoryLogger } from '../aggregator/reconcile/k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const BASELINE = readFileSync(fileURLToPath(new URL('../../spec/baseline.yaml', import.meta.url)), 'utf8');

describe('spec edited while running', () => {
  it('an invalid edit keeps the last good spec, is reported on /readyz, metrics and an Event; a fix recovers', async () => {
    const emu = await startK8sEmulator();
    cleanup.push(() => emu.close());
    const file = join(mkdtempSync(join(tmpdir(), 'onv-spec-')), 'spec.yaml');
    writeFileSync(file, BASELINE);
    const { spec, hash } = await readSpecFile(file);
    const evaluator = createSpecEvaluator(spec);
    const store = new NodeStore({ staleAfterMs: 60_000 });
    const metrics = createMetrics(store, { defaultMetrics: false });
    const { logger } = memoryLogger();
    const watcher = new SpecWatcher({
      file,
      initialHash: hash,
      evaluator,
      store,
      intervalMs: 60_000,
      metrics,
      logger,
      events: podEventRecorder({
        kubeConfig: emu.kubeConfig(),
        env: { POD_NAME: 'aggregator-0', POD_NAMESPACE: 'osmo-node-validator' },
        component: 'osmo-node-validator',
        logger,
      }),
    });
    const t = await makeApp({ evaluator, store, metrics, specError: () => watcher.error() });
    cleanup.push(() => t.app.close());
    const revision = spec.metadata.revision;
    expect((await postReport(t.app, sampleReport('node-a'))).statusCode).toBe(202);

    // Invalid edit: a byte quantity without a unit.
    writeFileSync(file, BASELINE.replace('min: 24GB', 'min: 24'));
    expect(await watcher.reload('poll')).toMatchObject({ status: 'invalid' });
    await watcher.eventsSettled();

    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded' });
    expect(ready.json().specError).toMatch(/spec\.yaml/);
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^osmo_validator_spec_valid 0$/m);
    expect(text).toMatch(/^osmo_validator_spec_reload_errors_total 1$/m);
    const warning = emu
      .events('osmo-node-validator')
      .find(
        (e) => e['type'] === 'Warning' && (e['involvedObject'] as { name?: string }).name === 'aggregator-0',
      );
    expect(warning).toBeDefined();

    // Reports keep flowing and are evaluated against the last good spec.
    expect((await postReport(t.app, sampleReport('node-b'))).statusCode).toBe(202);
    expect(store.get('node-b')?.result.spec.revision).toBe(revision);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/spec' })).json().metadata.revision).toBe(
      revision,
    );

    // The file is fixed: ready again, metric back to 1.
    writeFileSync(file, BASELINE);
    expect((await watcher.reload('poll')).status).not.toBe('invalid');
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(
      /^osmo_validator_spec_valid 1$/m,
    );
  });
});
