// CUDA forward compatibility: cuda-compat packages in dpkg status, compat/libcuda.so.<driver> files, and
// which nvidia-smi product brands are data-center GPUs (fixture trees in test/fixtures/cuda-compat/).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import {
  cudaCompatPackagesFromLines,
  isDataCenterBrand,
  joinCompat,
  libcudaVersionOf,
  readCudaForwardCompat,
} from '../../../agent/probes/cuda-compat.js';
import { parseNvidiaSmiXml } from '../../../agent/probes/gpu.js';
import { fixtureHostContext, realFixturePath } from '../../helpers/fixture-host.js';

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
