// CUDA forward compatibility: cuda-compat packages in dpkg status, compat/libcuda.so.<driver> files, and
// which nvidia-smi product brands are data-center GPUs (fixture trees in test/fixtures/cuda-compat/).

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { collectFacts } from '../../../agent/collect.js';
import { createHostContext } from '../../../agent/host.js';
import {
  cudaCompatPackagesFromLines,
  joinCompat,
  libcudaVersionOf,
  readCudaForwardCompat,
} from '../../../agent/probes/cuda-compat.js';
import { parseNvidiaSmiXml } from '../../../agent/probes/gpu.js';
import { evaluate } from '../../../spec/evaluate.js';
import { isDataCenterBrand } from '../../../spec/gpu-brand.js';
import { loadSpec } from '../../../spec/load.js';
import { fixtureHostContext, fixtureHostPath, realFixturePath } from '../../helpers/fixture-host.js';

const treePath = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/cuda-compat/${name}`, import.meta.url));
const tree = (name: string) => createHostContext({ root: treePath(name), execMode: 'local', path: '' });

describe('cuda-compat in dpkg status', () => {
  it('only installed cuda-compat-X-Y stanzas count (a removed package leaves config-files)', async () => {
    const status = await readFile(treePath('dpkg-cuda-compat-12-8/var/lib/dpkg/status'), 'utf8');
    expect(await cudaCompatPackagesFromLines(status.split('\n'))).toEqual([
      { name: 'cuda-compat-12-8', version: '570.211.01-0ubuntu1', cudaVersion: '12.8' },
    ]);
  });
  it('the last stanza counts without a trailing blank line; other package names do not match', async () => {
    const text = 'Package: cuda-compat-13-0\nStatus: install ok installed\nVersion: 580.65.06-0ubuntu1';
    expect(await cudaCompatPackagesFromLines(text.split('\n'))).toEqual([
      { name: 'cuda-compat-13-0', version: '580.65.06-0ubuntu1', cudaVersion: '13.0' },
    ]);
    const others =
      'Package: cuda-compat\nStatus: install ok installed\nVersion: 1\n\nPackage: cuda-compat-12-8-dbg\nStatus: install ok installed\nVersion: 1\n';
    expect(await cudaCompatPackagesFromLines(others.split('\n'))).toEqual([]);
  });
  it('libcudaVersionOf: only the versioned file', () => {
    expect(libcudaVersionOf('libcuda.so.570.211.01')).toBe('570.211.01');
    expect(libcudaVersionOf('libcuda.so.595.84')).toBe('595.84');
    expect(libcudaVersionOf('libcuda.so.1')).toBeNull();
    expect(libcudaVersionOf('libcuda.so')).toBeNull();
    expect(libcudaVersionOf('libnvidia-ptxjitcompiler.so.570.211.01')).toBeNull();
  });
});

describe('readCudaForwardCompat on fixture trees', () => {
  it('package and its library: CUDA 12.8 through libcuda 570.211.01', async () => {
    expect(await readCudaForwardCompat(tree('dpkg-cuda-compat-12-8'))).toEqual([
      {
        cudaVersion: '12.8',
        libcudaVersion: '570.211.01',
        package: { name: 'cuda-compat-12-8', version: '570.211.01-0ubuntu1' },
        libraryPath: '/usr/local/cuda-12.8/compat/libcuda.so.570.211.01',
      },
    ]);
  });
  it('the library without a dpkg record (RPM, runfile)', async () => {
    expect(await readCudaForwardCompat(tree('library-only-12-6'))).toEqual([
      {
        cudaVersion: '12.6',
        libcudaVersion: '560.35.05',
        package: null,
        libraryPath: '/usr/local/cuda-12.6/compat/libcuda.so.560.35.05',
      },
    ]);
  });
  it('the record without its files: the version from the package, no library', async () => {
    expect(await readCudaForwardCompat(tree('package-without-library'))).toEqual([
      {
        cudaVersion: '12.8',
        libcudaVersion: '570.211.01',
        package: { name: 'cuda-compat-12-8', version: '570.211.01-0ubuntu1' },
        libraryPath: null,
      },
    ]);
  });
  it('a GPU host without it: nothing', async () => {
    expect(await readCudaForwardCompat(fixtureHostContext('gpu-535-216-cuda-caveat'))).toEqual([]);
  });
  it('joinCompat: several CUDA versions, newest first; the newest libcuda of one version wins', () => {
    const joined = joinCompat(
      [{ name: 'cuda-compat-12-6', version: '560.35.05-0ubuntu1', cudaVersion: '12.6' }],
      [
        { cudaVersion: '12.10', libcudaVersion: '580.1', path: '/a' },
        { cudaVersion: '12.6', libcudaVersion: '560.28.03', path: '/old' },
        { cudaVersion: '12.6', libcudaVersion: '560.35.05', path: '/new' },
      ],
    );
    expect(joined.map((j) => [j.cudaVersion, j.libcudaVersion, j.libraryPath])).toEqual([
      ['12.10', '580.1', '/a'],
      ['12.6', '560.35.05', '/new'],
    ]);
  });
});

describe('data-center GPUs by nvidia-smi product_brand (real -q -x outputs)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['nvidia-smi-q-x_A100-SXM4-80GBx4_535.54.03_cuda12.2.xml', 'NVIDIA', true],
    ['nvidia-smi-q-x_A10G_515.105.01_cuda11.7.xml', 'NVIDIA', true],
    ['nvidia-smi-q-x_TeslaT4_515.105.01_cuda11.7.xml', 'NVIDIA', true],
    ['nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml', 'GeForce', false],
    ['nvidia-smi-q-x_QuadroP400_418.43_cuda10.1.xml', 'Quadro', false],
    ['nvidia-smi-q-x_RTXA5000x2_590.44.01_cuda13.1.xml', 'NVIDIA RTX', false],
    ['nvidia-smi-q-x_GRID-P4-1Q-vGPU_513.46_cuda11.6.xml', 'NVIDIA RTX Virtual Workstation', false],
  ];
  for (const [file, brand, dataCenter] of cases) {
    it(`${file}: ${brand}`, async () => {
      const summary = await parseNvidiaSmiXml(await readFile(realFixturePath(`nvidia-smi/${file}`), 'utf8'));
      expect(summary.productBrands).toHaveLength(summary.devices.length);
      for (const b of summary.productBrands) {
        expect(b).toBe(brand);
        expect(isDataCenterBrand(b)).toBe(dataCenter);
      }
    });
  }
  it('Tesla (older drivers) is data-center; a missing or unknown brand is unknown, not a guess', () => {
    expect(isDataCenterBrand('Tesla')).toBe(true);
    expect(isDataCenterBrand(null)).toBeNull();
    expect(isDataCenterBrand('NVIDIA Virtual Compute Server')).toBeNull();
    expect(isDataCenterBrand('Something New')).toBeNull();
  });
});

describe('gpu.cuda with forward compatibility (fixture host + cuda-compat tree, evaluated)', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });
  /** The 535.216.03 A100 host (driver CUDA 12.2) with the cuda-compat-12-8 package and library added. */
  async function hostWithCompat(): Promise<string> {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-cudacompat-'));
    roots.push(root);
    await cp(fixtureHostPath('gpu-535-216-cuda-caveat'), root, { recursive: true, verbatimSymlinks: true });
    await cp(treePath('dpkg-cuda-compat-12-8'), root, { recursive: true, verbatimSymlinks: true });
    return root;
  }
  const evaluateHost = async (root: string) => {
    const host = createHostContext({ root, execMode: 'local', path: '' });
    const { facts, probeErrors } = await collectFacts(host, { registries: null, registryTimeoutMs: 1000 });
    const input = { node: 'n', facts, probeErrors, collectedAt: new Date().toISOString() };
    return evaluate(input, await loadSpec(), { role: 'gpu', source: 'flag' });
  };

  it('an A100 (brand NVIDIA) with cuda-compat-12-8 passes, the driver CUDA kept in the facts', async () => {
    const result = await evaluateHost(await hostWithCompat());
    expect(result.facts.gpu).toMatchObject({
      cudaVersion: '12.2',
      devices: [expect.objectContaining({ brand: 'NVIDIA' })],
      cudaForwardCompat: [expect.objectContaining({ cudaVersion: '12.8', libcudaVersion: '570.211.01' })],
    });
    const cuda = result.checks.find((c) => c.id === 'gpu.cuda');
    expect(cuda).toMatchObject({
      status: 'pass',
      observed: '12.2 (driver); 12.8 via forward compatibility (cuda-compat-12-8 570.211.01-0ubuntu1)',
    });
    expect(cuda?.message).toContain('on data-center GPUs (NVIDIA); the driver itself supports CUDA 12.2');
  });

  it('the same compat on a GeForce does not count: forward compatibility is data-center only', async () => {
    const root = await hostWithCompat();
    const xml = path.join(root, 'usr/share/osmo-fixture/nvidia-smi-q-x_A100_535.216.03_cuda12.2_derived.xml');
    await writeFile(
      xml,
      (await readFile(xml, 'utf8')).replace(/<product_brand>[^<]*</, '<product_brand>GeForce<'),
    );
    const cuda = (await evaluateHost(root)).checks.find((c) => c.id === 'gpu.cuda');
    expect(cuda?.status).toBe('fail');
    expect(cuda?.message).toContain('applies only to data-center GPUs, not to GeForce');
  });

  it('without compat the driver CUDA decides (fails)', async () => {
    const cuda = (await evaluateHost(fixtureHostPath('gpu-535-216-cuda-caveat'))).checks.find(
      (c) => c.id === 'gpu.cuda',
    );
    expect(cuda).toMatchObject({ status: 'fail', observed: '12.2' });
  });
});
