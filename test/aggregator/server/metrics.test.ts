// The aggregator's /metrics as Prometheus reads it: a live aggregator (the command, with TLS from files
// and a shared token) passes `promtool check metrics` with nothing to report, and exports build_info, the
// failing nodes per check id, and the serving certificate's expiry.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../aggregator/aggregator-command.js';
import { packageVersion } from '../../../report/version.js';
import { generateTestPki } from '../../helpers/certs.js';
import { sampleReport, TOKEN } from '../harness.js';

const dir = mkdtempSync(join(tmpdir(), 'onv-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const silentLog = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

/** One HTTPS request trusting `ca`; the body as text. */
function call(url: string, ca: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers =
      body === undefined ? {} : { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    const req = request(
      url,
      { method: body === undefined ? 'GET' : 'POST', ca, agent: false, headers },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += String(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** promtool check metrics on a file (it reads the exposition from stdin): exit status and output. */
function checkMetrics(file: string): { status: number | null; output: string } {
  const r = spawnSync('sh', ['-c', 'promtool check metrics < "$1"', 'sh', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the exposition (no escaped quotes in our label values). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] as string, l[2] as string]),
    );
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrapeLiveAggregator(): Promise<{ text: string; failing: string[][]; cert: string }> {
  const pki = await generateTestPki();
  writeFileSync(join(dir, 'tls.crt'), pki.server.cert);
  writeFileSync(join(dir, 'tls.key'), pki.server.key);
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const stop = new AbortController();
  let result: { text: string; failing: string[][]; cert: string } | undefined;
  let failure: unknown;
  const argv = ['--listen', '127.0.0.1:0', '--token-file', join(dir, 'token'), '--read-open'];
  argv.push('--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'));
  const code = await run(argv, {
    env: {},
    signal: stop.signal,
    logStream: silentLog(),
    stderr: () => {},
    onListening: (url) => {
      const work = async () => {
        const failing: string[][] = [];
        // One node as sampled, one with a containerd older than the baseline's.
        const old = sampleReport('old-node');
        old.facts.containerd = {
          version: '1.6.20',
          raw: 'containerd github.com/containerd/containerd v1.6.20',
        };
        for (const report of [sampleReport('node-a'), old]) {
          const res = await call(`${url}/api/v1/reports`, pki.ca.cert, report);
          expect(res.status, res.text).toBe(202);
          failing.push((JSON.parse(res.text) as { failingChecks: string[] }).failingChecks);
        }
        const { text } = await call(`${url}/metrics`, pki.ca.cert);
        result = { text, failing, cert: pki.server.cert };
      };
      work().then(
        () => stop.abort(),
        (err: unknown) => {
          failure = err;
          stop.abort();
        },
      );
    },
  });
  if (failure) throw failure;
  expect(code).toBe(0);
  if (!result) throw new Error('the aggregator did not serve');
  return result;
}

const live = await scrapeLiveAggregator();
const all = samples(live.text);

describe('GET /metrics of a live aggregator', () => {
  it('passes promtool check metrics with nothing to report', () => {
    const file = join(dir, 'metrics.txt');
    writeFileSync(file, live.text);
    expect(checkMetrics(file)).toEqual({ status: 0, output: '' });
  });

  it('promtool check metrics does flag a gauge named like a counter (the check is real)', () => {
    const file = join(dir, 'bad.txt');
    writeFileSync(file, '# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n');
    const r = checkMetrics(file);
    expect(r.output).toMatch(/x_total non-counter metrics should not have "_total" suffix/);
    expect(r.status).not.toBe(0);
  });

  it('exports build_info with the version and revision', () => {
    const info = all.filter((s) => s.name === 'osmo_validator_build_info');
    expect(info).toHaveLength(1);
    expect(info[0]?.value).toBe(1);
    expect(info[0]?.labels['version']).toBe(packageVersion());
    expect(info[0]?.labels['revision']).toMatch(/^([0-9a-f]{7,40}|unknown)$/);
  });

  it('counts failing nodes per check id as the reports were answered, 0 for checks no node fails', () => {
    const gauge = new Map(
      all
        .filter((s) => s.name === 'osmo_validator_check_failing_nodes')
        .map((s) => [s.labels['check'] ?? '', s.value] as const),
    );
    const expected = new Map<string, number>();
    for (const ids of live.failing) for (const id of ids) expected.set(id, (expected.get(id) ?? 0) + 1);
    expect(expected.size).toBeGreaterThan(0);
    for (const [id, n] of expected) expect(gauge.get(id), id).toBe(n);
    expect([...gauge].filter(([id, n]) => !expected.has(id) && n !== 0)).toEqual([]);
    expect([...gauge.values()].filter((n) => n === 0).length).toBeGreaterThan(0);
  });

  it("exports the serving certificate's notAfter", () => {
    const expiry = all.find((s) => s.name === 'osmo_validator_tls_certificate_expiry_timestamp_seconds');
    const notAfter = Math.floor(Date.parse(new X509Certificate(live.cert).validTo) / 1000);
    expect(expiry?.value).toBe(notAfter);
  });

  it("drops prom-client's _total gauges and keeps their per-type gauges", () => {
    expect(all.some((s) => s.name.startsWith('nodejs_active_') && s.name.endsWith('_total'))).toBe(false);
    expect(all.some((s) => s.name === 'nodejs_active_handles')).toBe(true);
  });
});
