// Finding the Kubernetes configuration as kubectl does: --kubeconfig, else KUBECONFIG (colon-separated,
// merged, the first file winning), else ~/.kube/config (not for the aggregator), else in-cluster; --context.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../aggregator/k8s/client.js';

const dir = mkdtempSync(join(tmpdir(), 'onv-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kubeconfig with one cluster/user/context per name; `current` its current-context. */
function kubeconfig(file: string, names: string[], current: string): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: names.map((n) => ({ name: n, cluster: { server: `https://${n}.example:6443` } })),
      users: names.map((n) => ({ name: n, user: { token: `token-${n}` } })),
      contexts: names.map((n) => ({ name: n, context: { cluster: n, user: n } })),
      'current-context': current,
    }),
  );
  return path;
}

const a = kubeconfig('a.yaml', ['a', 'shared'], 'a');
const b = kubeconfig('b.yaml', ['b', 'shared'], 'b');
const home = join(dir, 'home');
mkdirSync(join(home, '.kube'), { recursive: true });
kubeconfig(join('home', '.kube', 'config'), ['home'], 'home');
const server = (kc: ReturnType<typeof loadKubeConfig>) => kc?.getCurrentCluster()?.server;

describe('loadKubeConfig', () => {
  it('--kubeconfig wins over KUBECONFIG and ~/.kube/config', () => {
    expect(server(loadKubeConfig({ file: b, env: { KUBECONFIG: a }, home }))).toBe('https://b.example:6443');
  });

  it('merges the KUBECONFIG list, the first file setting the current context; missing entries skipped', () => {
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'missing')}:${a}:${b}` }, home });
    expect(server(kc)).toBe('https://a.example:6443');
    expect(
      kc
        ?.getContexts()
        .map((c) => c.name)
        .sort(),
    ).toEqual(['a', 'b', 'shared']);
    expect(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'missing') }, home })).toThrow(
      /none of the KUBECONFIG files/,
    );
  });

  it('--context picks another context; an unknown one is an error naming the contexts there are', () => {
    expect(server(loadKubeConfig({ env: { KUBECONFIG: `${a}:${b}` }, context: 'b', home }))).toBe(
      'https://b.example:6443',
    );
    expect(() => loadKubeConfig({ file: a, context: 'nope', home })).toThrow(
      /--context nope: no such context .*contexts: a, shared/,
    );
    expect(() => loadKubeConfig({ env: {}, context: 'x', home: join(dir, 'nowhere') })).toThrow(
      /no kubeconfig found/,
    );
  });

  it('reads ~/.kube/config like kubectl, unless told not to (the aggregator)', () => {
    expect(server(loadKubeConfig({ env: {}, home }))).toBe('https://home.example:6443');
    expect(loadKubeConfig({ env: {}, home, homeConfig: false })).toBeNull();
    expect(loadKubeConfig({ env: {}, home: join(dir, 'nowhere') })).toBeNull();
  });
});
