// How the image pull (facts.registries[].pull) and the OSMO service (facts.osmo) decide registry.reachable
// and osmo.reachable, including reports of agents older than either probe (fields absent).
import { beforeAll, describe, expect, it } from 'vitest';
import type {
  Facts,
  NodeResult,
  OsmoFacts,
  ProbeError,
  RegistryPull,
  RegistryResult,
} from '../../report/schema.js';
import { evaluate } from '../../spec/evaluate.js';
import { loadSpec, parseSpec, type Spec } from '../../spec/load.js';
import { buildFacts, reachable } from './facts-builder.js';

let spec: Spec;
beforeAll(async () => {
  spec = await loadSpec();
});

function run(facts: Facts, probeErrors: ProbeError[] = [], s: Spec = spec): NodeResult {
  return evaluate({ node: 'node-1', facts, probeErrors, collectedAt: '2025-06-01T11:59:00.000Z' }, s, {
    role: 'compute',
    source: 'flag',
  });
}
const check = (r: NodeResult, id: string) => r.checks.find((c) => c.id === id)!;

function pulled(host: string, status: RegistryPull['status'], error: string | null = null): RegistryResult {
  return { ...reachable(host), pull: { image: 'library/busybox:latest', status, httpStatus: null, error } };
}

describe('registry.reachable with the pull', () => {
  it('every pull ok: pass, saying how many were pulled', () => {
    const r = run(buildFacts({ registries: [pulled('nvcr.io', 'ok'), pulled('docker.io', 'ok')] }));
    expect(check(r, 'registry.reachable')).toMatchObject({
      status: 'pass',
      message: '2 registries reachable, 2 pulled',
      observed:
        'nvcr.io: reachable, pull library/busybox:latest ok, docker.io: reachable, pull library/busybox:latest ok',
    });
  });

  it('/v2/ reachable but the pull blocked or denied: fail, with the proxy remediation', () => {
    const r = run(
      buildFacts({
        registries: [
          pulled('nvcr.io', 'ok'),
          pulled('docker.io', 'blocked', 'token endpoint auth.docker.io: ECONNRESET'),
          pulled('ghcr.io', 'denied', 'manifest containerd/busybox:1.36: HTTP 403'),
        ],
      }),
    );
    const c = check(r, 'registry.reachable');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('docker.io (blocked: token endpoint auth.docker.io: ECONNRESET)');
    expect(c.message).toContain('ghcr.io (denied: manifest containerd/busybox:1.36: HTTP 403)');
    expect(c.message).toContain('passes /v2/ but blocks');
    expect(c.remediation).toContain('not only /v2/');
    expect(r.verdict).toBe('fail');
  });

  it('a missing image warns (the configuration, not the node); untested pulls pass on /v2/ and say so', () => {
    const missing = run(buildFacts({ registries: [pulled('nvcr.io', 'not-found')] }));
    expect(check(missing, 'registry.reachable')).toMatchObject({ status: 'warn' });
    expect(check(missing, 'registry.reachable').message).toContain('nvcr.io/library/busybox:latest');
    const untested = run(
      buildFacts({ registries: [pulled('mirror.local:5000', 'not-tested', 'no image configured to pull')] }),
    );
    expect(check(untested, 'registry.reachable')).toMatchObject({
      status: 'pass',
      message: '1 registries reachable, 1 without a pull test',
      observed:
        'mirror.local:5000: reachable, pull library/busybox:latest not tested (no image configured to pull)',
    });
  });

  it('an older agent (no pull field) is judged on /v2/ as before', () => {
    const r = run(buildFacts());
    expect(check(r, 'registry.reachable')).toMatchObject({
      status: 'pass',
      observed: 'nvcr.io: reachable, ghcr.io: reachable, docker.io: reachable',
    });
  });
});

const osmo = (over: Partial<OsmoFacts> = {}): OsmoFacts => ({
  url: 'https://osmo.example.com',
  endpoint: 'osmo.example.com',
  reachable: true,
  dnsResolved: true,
  httpStatus: 200,
  latencyMs: 12,
  error: null,
  ...over,
});

describe('osmo.reachable', () => {
  it('reachable passes; DNS, network and TLS failures fail, naming the stage', () => {
    expect(check(run(buildFacts({ osmo: osmo({ httpStatus: 401 }) })), 'osmo.reachable')).toMatchObject({
      status: 'pass',
      observed: 'https://osmo.example.com: HTTP 401',
    });
    for (const [over, stage] of [
      [{ reachable: false, dnsResolved: false, httpStatus: null, error: 'ENOTFOUND' }, 'DNS: ENOTFOUND'],
      [{ reachable: false, httpStatus: null, error: 'ECONNREFUSED' }, 'network: ECONNREFUSED'],
      [
        { reachable: false, httpStatus: null, error: 'timeout after 5000ms' },
        'network: timeout after 5000ms',
      ],
      [
        { reachable: false, httpStatus: null, error: 'self-signed certificate' },
        'TLS: self-signed certificate',
      ],
    ] as const) {
      const c = check(run(buildFacts({ osmo: osmo(over) })), 'osmo.reachable');
      expect(c.status).toBe('fail');
      expect(c.message).toContain(`(${stage})`);
      expect(c.remediation).toContain('--osmo-url');
    }
  });

  it('no URL configured: skip; an older agent (field absent): skip, never error', () => {
    expect(check(run(buildFacts({ osmo: null })), 'osmo.reachable')).toMatchObject({
      status: 'skip',
      message: expect.stringContaining('no OSMO URL configured'),
    });
    const old = buildFacts();
    expect('osmo' in old).toBe(false);
    expect(check(run(old), 'osmo.reachable')).toMatchObject({
      status: 'skip',
      message: expect.stringContaining('older than the osmo probe'),
    });
  });

  it('a probe error makes it error', () => {
    const r = run(buildFacts({ osmo: null }), [
      { probe: 'osmo', kind: 'timeout', message: 'osmo did not finish' },
    ]);
    expect(check(r, 'osmo.reachable').status).toBe('error');
  });

  it('whenNotConfigured: fail makes a missing URL fail; a bad value is a load error naming the field', () => {
    const custom = parseSpec(
      `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: site, revision: "1" }
checks:
  - id: osmo.reachable
    description: OSMO reachable
    rule: osmoService
    severity: fail
    roles: { compute: { whenNotConfigured: fail } }
    remediation: Give the agent --osmo-url.
    source: "Networking Requirements › Internet access"
`,
      'site.yaml',
    );
    expect(check(run(buildFacts({ osmo: null }), [], custom), 'osmo.reachable').status).toBe('fail');
    expect(() =>
      parseSpec(
        `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: site, revision: "1" }
checks:
  - id: osmo.reachable
    description: OSMO reachable
    rule: osmoService
    severity: fail
    roles: { compute: { whenNotConfigured: maybe } }
    remediation: r
    source: s
`,
        'site.yaml',
      ),
    ).toThrow(/site\.yaml: checks\[0\]\.roles\.compute\.whenNotConfigured/);
  });
});
