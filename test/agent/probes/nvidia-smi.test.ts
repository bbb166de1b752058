import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ProbeFailure } from '../../../agent/probe-failure.js';
import {
  parseNvidiaSmiVersionText,
  parseNvidiaSmiXml,
  parseToolkitVersion,
} from '../../../agent/probes/gpu.js';
import { realFixturePath } from '../../helpers/fixture-host.js';

const real = (name: string) => readFile(realFixturePath(`nvidia-smi/${name}`), 'utf8');

interface Expected {
  driver: string;
  cuda: string;
  attached: number;
  devices: Array<{ name: string; uuid: string; memoryMiB: number; pciBusId: string; migMode: string | null }>;
}

// Ground truth read from the files themselves (see test/fixtures/real/README.md).
const XML_CASES: Record<string, Expected> = {
  'nvidia-smi-q-x_A100-SXM4-80GBx4_535.54.03_cuda12.2.xml': {
    driver: '535.54.03',
    cuda: '12.2',
    // The capture says 4 attached GPUs but holds one <gpu> (with 4 MIG devices): report what is there.
    attached: 4,
    devices: [
      {
        name: 'NVIDIA A100-SXM4-80GB',
        uuid: 'GPU-513536b6-7d19-9063-b049-1e69664bb298',
        memoryMiB: 81920,
        pciBusId: '00000000:01:00.0',
        migMode: 'Enabled',
      },
    ],
  },
  'nvidia-smi-q-x_A10G_515.105.01_cuda11.7.xml': {
    driver: '515.105.01',
    cuda: '11.7',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA A10G',
        uuid: 'GPU-9a9a6c50-2a47-2f51-a902-b82c3b127e94',
        memoryMiB: 23028,
        pciBusId: '00000000:00:1E.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_GRID-P4-1Q-vGPU_513.46_cuda11.6.xml': {
    driver: '513.46',
    cuda: '11.6',
    attached: 1,
    devices: [
      {
        name: 'GRID P4-1Q',
        uuid: 'GPU-1b1ea7c7-1c4b-ed49-1c72-26c65f2dd207',
        memoryMiB: 1024,
        pciBusId: '00000000:00:0B.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_GT1030_470.74_cuda11.4.xml': {
    driver: '470.74',
    cuda: '11.4',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA GeForce GT 1030',
        uuid: 'GPU-857c6374-f681-cf3a-f99f-9063a87b8ac0',
        memoryMiB: 1998,
        pciBusId: '00000000:2D:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_GTX1660Ti-GraphicsDevice_418.43_cuda10.1.xml': {
    driver: '418.43',
    cuda: '10.1',
    attached: 1,
    devices: [
      {
        name: 'Graphics Device',
        uuid: 'GPU-304a277d-3545-63b8-3a36-dfde3c992989',
        memoryMiB: 5912,
        pciBusId: '00000000:43:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_QuadroP400_418.43_cuda10.1.xml': {
    driver: '418.43',
    cuda: '10.1',
    attached: 1,
    devices: [
      {
        name: 'Quadro P400',
        uuid: 'GPU-8f750be4-dfbc-23b9-b33f-da729a536494',
        memoryMiB: 1998,
        pciBusId: '00000000:43:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml': {
    driver: '570.124.04',
    cuda: '12.8',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA GeForce RTX 3060',
        uuid: 'GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625',
        memoryMiB: 12288,
        pciBusId: '00000000:2D:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_RTX3080_595.58.03_cuda13.2.xml': {
    driver: '595.58.03',
    cuda: '13.2',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA GeForce RTX 3080',
        uuid: 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4',
        memoryMiB: 10240,
        pciBusId: '00000000:0C:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_RTX4000SFFAda_595.84_cuda13.2.xml': {
    driver: '595.84',
    cuda: '13.2',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA RTX 4000 SFF Ada Generation',
        uuid: 'GPU-37037c3f-65c8-ec4d-24a9-420204ad8026',
        memoryMiB: 20475,
        pciBusId: '00000000:06:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_RTXA5000x2_590.44.01_cuda13.1.xml': {
    driver: '590.44.01',
    cuda: '13.1',
    attached: 2,
    devices: [
      {
        name: 'NVIDIA RTX A5000',
        uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab',
        memoryMiB: 24564,
        pciBusId: '00000000:81:00.0',
        migMode: null,
      },
      {
        name: 'NVIDIA RTX A5000',
        uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd',
        memoryMiB: 24564,
        pciBusId: '00000000:C1:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_RTXPRO6000BlackwellMaxQ_590.44.01_cuda13.1.xml': {
    driver: '590.44.01',
    cuda: '13.1',
    attached: 1,
    devices: [
      {
        name: 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',
        uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab',
        memoryMiB: 97887,
        pciBusId: '00000000:61:00.0',
        migMode: null,
      },
    ],
  },
  'nvidia-smi-q-x_TeslaT4_515.105.01_cuda11.7.xml': {
    driver: '515.105.01',
    cuda: '11.7',
    attached: 1,
    devices: [
      {
        name: 'Tesla T4',
        uuid: 'GPU-d37e67a5-91dd-3774-a5cb-99096249601a',
        memoryMiB: 15360,
        pciBusId: '00000000:00:1E.0',
        migMode: null,
      },
    ],
  },
};

describe('parseNvidiaSmiXml on real nvidia-smi -q -x outputs', () => {
  for (const [file, want] of Object.entries(XML_CASES)) {
    it(file, async () => {
      const got = await parseNvidiaSmiXml(await real(file));
      expect(got.driverVersion).toBe(want.driver);
      expect(got.cudaVersion).toBe(want.cuda);
      expect(got.attachedGpus).toBe(want.attached);
      expect(got.devices).toEqual(want.devices);
    });
  }

  it('keeps the driver string exactly, leading zero included', async () => {
    const xml = (await real('nvidia-smi-q-x_TeslaT4_515.105.01_cuda11.7.xml')).replace(
      '<driver_version>515.105.01</driver_version>',
      '<driver_version>535.216.03</driver_version>',
    );
    expect((await parseNvidiaSmiXml(xml)).driverVersion).toBe('535.216.03');
  });

  it('reports cuda_version N/A as null, not a made-up value', async () => {
    const xml = (await real('nvidia-smi-q-x_TeslaT4_515.105.01_cuda11.7.xml')).replace(
      '<cuda_version>11.7</cuda_version>',
      '<cuda_version>N/A</cuda_version>',
    );
    expect((await parseNvidiaSmiXml(xml)).cudaVersion).toBeNull();
  });

  it('prefers kmd_version when driver_version carries the 610 deprecation note', async () => {
    const xml = (await real('nvidia-smi-q-x_RTX3080_595.58.03_cuda13.2.xml')).replace(
      '<driver_version>595.58.03</driver_version>',
      '<driver_version>Deprecated, see KMD version</driver_version><kmd_version>610.57.04</kmd_version>',
    );
    expect((await parseNvidiaSmiXml(xml)).driverVersion).toBe('610.57.04');
  });

  it('rejects truncated XML with a parse error and no values', async () => {
    const full = await real('nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml');
    const cut = full.slice(0, Math.floor(full.length / 2));
    const err = await parseNvidiaSmiXml(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeFailure);
    expect((err as ProbeFailure).kind).toBe('parse');
    expect((err as ProbeFailure).message).toMatch(/not well-formed XML/);
  });

  it('rejects a document that is not nvidia-smi output', async () => {
    await expect(parseNvidiaSmiXml('<html><body>hi</body></html>')).rejects.toMatchObject({ kind: 'parse' });
  });

  // Well-formed documents the XML parser refuses by its limits: the input is at fault (parse), not the
  // program (internal). Each is the real T4 output with one thing pushed past a limit.
  describe('past the XML parser limits → parse, naming the limit', () => {
    const t4 = () => real('nvidia-smi-q-x_TeslaT4_515.105.01_cuda11.7.xml');
    const withDoctype = (xml: string, entities: string, driver: string) =>
      xml
        .replace(/<!DOCTYPE nvidia_smi_log SYSTEM "[^"]+">/, `<!DOCTYPE nvidia_smi_log [${entities}]>`)
        .replace('<driver_version>515.105.01</driver_version>', `<driver_version>${driver}</driver_version>`);
    const cases: Array<[string, (xml: string) => string, RegExp]> = [
      [
        'nesting deeper than the parser allows',
        (xml) => xml.replace('<timestamp>', `${'<x>'.repeat(200)}${'</x>'.repeat(200)}<timestamp>`),
        /nested tags/i,
      ],
      [
        'more entity declarations than allowed',
        (xml) =>
          withDoctype(xml, Array.from({ length: 1001 }, (_, i) => `<!ENTITY e${i} "1">`).join(''), '&e1;'),
        /entity count/i,
      ],
      [
        'an entity larger than allowed',
        (xml) => withDoctype(xml, `<!ENTITY big "${'9'.repeat(10_001)}">`, '&big;'),
        /size/i,
      ],
      [
        'entity expansion beyond the expanded-length limit',
        (xml) => withDoctype(xml, `<!ENTITY e "${'9'.repeat(9000)}">`, '&e;'.repeat(12)),
        /expanded content length/i,
      ],
    ];
    for (const [what, alter, message] of cases) {
      it(what, async () => {
        const err = await parseNvidiaSmiXml(alter(await t4())).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProbeFailure);
        expect(err).toMatchObject({ kind: 'parse' });
        expect((err as ProbeFailure).message).toMatch(/^nvidia-smi -q -x could not be parsed: /);
        expect((err as ProbeFailure).message).toMatch(message);
      });
    }
  });
});

describe('nvidia-smi text outputs (table, -q, --version, -L)', () => {
  const cases: Array<[string, string, string]> = [
    ['nvidia-smi-table_linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt', '610.57.04', '13.3'],
    ['nvidia-smi-q_linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt', '610.57.04', '13.3'],
    ['nvidia-smi-version_linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt', '610.57.04', '13.3'],
    ['nvidia-smi-table_linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-q_linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-version_linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-table_linux-x86_64__nvidia-h100-mig__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-version_linux-x86_64__nvidia-h100-mig__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-table_linux-x86_64__nvidia-h200__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-version_linux-x86_64__nvidia-h200__590.48.01.txt', '590.48.01', '13.1'],
    ['nvidia-smi-table_linux-x86_64__nvidia-l40s__595.80.txt', '595.80', '13.2'],
    ['nvidia-smi-version_linux-x86_64__nvidia-l40s__595.80.txt', '595.80', '13.2'],
  ];
  for (const [file, driver, cuda] of cases) {
    it(file, async () => {
      expect(parseNvidiaSmiVersionText(await real(file))).toEqual({
        driverVersion: driver,
        cudaVersion: cuda,
      });
    });
  }

  it('never takes the 610 "Deprecated" text for a version', () => {
    const v = parseNvidiaSmiVersionText('DRIVER version      : Deprecated, see "KMD version" instead\n');
    expect(v).toEqual({ driverVersion: null, cudaVersion: null });
  });

  it('parses container toolkit versions', () => {
    expect(
      parseToolkitVersion(
        'NVIDIA Container Toolkit CLI version 1.12.0\ncommit: 62bd015475656ef795cb0d59cc4030a6bd4a9526\n',
      ),
    ).toBe('1.12.0');
    expect(parseToolkitVersion('NVIDIA Container Runtime version 1.11.0\ncommit: 670+d9de4a0\n')).toBe(
      '1.11.0',
    );
    expect(parseToolkitVersion('something else')).toBeNull();
  });
});
