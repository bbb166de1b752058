import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROLES } from '../../report/schema.js';
import { loadSpec, parseSpec, SpecError } from '../../spec/load.js';
import { validateSpec } from '../../spec/validate.js';
import { CONTRACT_CHECK_IDS as CONTRACT_IDS } from '../helpers/contract.js';

const HEAD = `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: test, revision: "1" }
`;

function specWith(checkYaml: string): string {
  return `${HEAD}checks:\n${checkYaml}`;
}

const MEM = `  - id: memory.total
    description: memory
    rule: minQuantity
    fact: memory.totalBytes
    severity: fail
    remediation: add memory
    source: seed
    roles:
      operator: { min: 8GB }
`;

function errorOf(text: string, file = 'spec.yaml'): SpecError {
  try {
    parseSpec(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return err as SpecError;
  }
  throw new Error('expected a SpecError');
}

describe('the built-in baseline', () => {
  it('loads, validates and has every contract check id', async () => {
    const spec = await loadSpec();
    expect(spec.metadata.name).toBe('osmo-onprem-baseline');
    const ids = spec.checks.map((c) => c.id);
    for (const id of CONTRACT_IDS) expect(ids).toContain(id);
    for (const c of spec.checks) expect(c.source.length).toBeGreaterThan(5);
  });

  it('carries the seed thresholds with explicit units', async () => {
    const spec = await loadSpec();
    const find = (id: string) => spec.checks.find((c) => c.id === id);
    expect(find('memory.total')?.roles).toMatchObject({
      'control-plane': { min: '24GB' },
      operator: { min: '8GB' },
    });
    expect(find('disk.free')?.roles).toEqual({
      'control-plane': { min: '200GB', note: expect.stringContaining('200 GB free') },
    });
    expect(find('disk.capacity')?.roles).toMatchObject({
      'control-plane': { min: '200GB', note: expect.stringContaining('200 GB free') },
      operator: { min: '50GB' },
    });
    expect(find('cpu.cores')?.roles).toMatchObject({ 'control-plane': { min: 12 }, operator: { min: 4 } });
    expect(find('gpu.driver')?.roles.gpu).toMatchObject({ min: '535.216.03' });
    // YAML merge keys resolve: compute inherits the CUDA caveat and skips when there is no GPU.
    expect(find('gpu.cuda')?.roles.compute).toMatchObject({ min: '12.6', whenAbsent: 'skip' });
    expect(JSON.stringify(find('gpu.cuda')?.roles.compute)).toContain('cuda-compat-12-6');
    expect(Object.keys(find('registry.reachable')?.roles ?? {})).toEqual([...ROLES]);
  });
});

describe('parseSpec errors name the file, the field path and the problem', () => {
  it('bad quantity', () => {
    const e = errorOf(specWith(MEM.replace('8GB', '8 GX')));
    expect(e.message).toBe(
      'spec.yaml: checks[0].roles.operator.min: "8 GX" is not a quantity (use 8GB, 8G, 8GiB or 8Gi)',
    );
  });

  it('a byte quantity without a unit', () => {
    expect(errorOf(specWith(MEM.replace('8GB', '8'))).message).toContain(
      'checks[0].roles.operator.min: number 8 is not a quantity',
    );
  });

  it('unknown field at the top, in a check and in role parameters', () => {
    expect(errorOf(`${specWith(MEM)}extra: 1\n`).message).toMatch(/^spec\.yaml: extra: unknown field/);
    expect(errorOf(specWith(MEM.replace('source: seed', 'source: seed\n    sevrity: warn'))).message).toMatch(
      /checks\[0\]\.sevrity: unknown field/,
    );
    expect(errorOf(specWith(MEM.replace('{ min: 8GB }', '{ min: 8GB, max: 9GB }'))).message).toMatch(
      /checks\[0\]\.roles\.operator\.max: unknown field/,
    );
  });

  it('bad role', () => {
    const e = errorOf(specWith(MEM.replace('operator:', 'worker:')));
    expect(e.message).toBe(
      'spec.yaml: checks[0].roles.worker: unknown role (expected one of control-plane, operator, compute, gpu, jetson)',
    );
  });

  it('bad rule type, severity, fact and version', () => {
    expect(errorOf(specWith(MEM.replace('minQuantity', 'maxQuantity'))).message).toContain(
      'checks[0].rule: "maxQuantity" is not one of',
    );
    expect(errorOf(specWith(MEM.replace('severity: fail', 'severity: error'))).message).toContain(
      'checks[0].severity',
    );
    expect(errorOf(specWith(MEM.replace('memory.totalBytes', 'memory.free'))).message).toContain(
      'checks[0].fact',
    );
    const ver = `  - id: gpu.driver
    description: d
    rule: minVersion
    fact: gpu.driverVersion
    scheme: nvidia-driver
    severity: fail
    remediation: r
    source: s
    roles:
      gpu: { min: "535.x" }
`;
    expect(errorOf(specWith(ver)).message).toBe(
      'spec.yaml: checks[0].roles.gpu.min: "535.x" is not a nvidia-driver version (quote it in YAML, e.g. "12.6")',
    );
  });

  it('one path refuses YAML numbers: validateSpec quotes the text parseSpec saw', () => {
    const doc = parse(
      specWith(`  - id: gpu.cuda
    description: d
    rule: minVersion
    fact: gpu.cudaVersion
    scheme: dotted
    severity: fail
    remediation: r
    source: s
    roles:
      gpu: { min: 12.6 }
`),
    );
    const at = 'checks[0].roles.gpu.min';
    expect(() => validateSpec(doc, 'spec.yaml', new Map([[at, { source: '12.60', value: 12.6 }]]))).toThrow(
      `spec.yaml: ${at}: 12.60 is a YAML number, read as 12.6; quote versions ("12.60") so no digit is lost`,
    );
    // A lossy number anywhere, even where a number is fine, is refused before anything else.
    expect(() =>
      validateSpec(doc, 'spec.yaml', new Map([['metadata.revision', { source: '0x10', value: 16 }]])),
    ).toThrow('spec.yaml: metadata.revision: 0x10 is a YAML number, read as 16; quote versions ("0x10")');
    // Without the source (a JSON document), the value is all there is.
    expect(() => validateSpec(doc, 'spec.json')).toThrow(
      `spec.json: ${at}: 12.6 is a YAML number; quote versions ("12.6") so no digit is lost`,
    );
  });

  it('a version YAML reads as a number is an error naming the source text (no digit lost)', () => {
    const cuda = (min: string) => `  - id: gpu.cuda
    description: d
    rule: minVersion
    fact: gpu.cudaVersion
    scheme: dotted
    severity: fail
    remediation: r
    source: s
    roles:
      gpu: { min: ${min} }
`;
    expect(errorOf(specWith(cuda('12.10'))).message).toBe(
      'spec.yaml: checks[0].roles.gpu.min: 12.10 is a YAML number, read as 12.1; quote versions ("12.10") so no digit is lost',
    );
    // Read back unchanged, but still a number: quoting is required all the same.
    expect(errorOf(specWith(cuda('12.6'))).message).toBe(
      'spec.yaml: checks[0].roles.gpu.min: 12.6 is a YAML number; quote versions ("12.6") so no digit is lost',
    );
    expect(errorOf(specWith(cuda('12'))).message).toContain('checks[0].roles.gpu.min: 12 is a YAML number');
    const quoted = parseSpec(specWith(cuda('"12.10"')), 'spec.yaml').checks[0];
    expect(quoted?.roles.gpu).toEqual({ min: '12.10' });
    const os = `  - id: os.release
    description: d
    rule: osRelease
    severity: fail
    remediation: r
    source: s
    roles:
      control-plane: { accept: [{ id: ubuntu, minVersion: "22.04" }, { id: debian, minVersion: 24.10 }] }
`;
    expect(errorOf(specWith(os)).message).toBe(
      'spec.yaml: checks[0].roles.control-plane.accept[1].minVersion: 24.10 is a YAML number, read as 24.1; quote versions ("24.10") so no digit is lost',
    );
    expect(errorOf(specWith(MEM).replace('revision: "1"', 'revision: 2025.10')).message).toBe(
      'spec.yaml: metadata.revision: 2025.10 is a YAML number, read as 2025.1; quote versions ("2025.10") so no digit is lost',
    );
  });

  it('missing and duplicate fields', () => {
    expect(errorOf(specWith(MEM.replace('    remediation: add memory\n', ''))).message).toBe(
      'spec.yaml: checks[0].remediation: is required',
    );
    expect(errorOf(specWith(MEM + MEM)).message).toContain(
      'checks[1].id: duplicate check id "memory.total" (also checks[0])',
    );
    expect(errorOf(HEAD).message).toContain('checks: must be a non-empty list');
    expect(errorOf(specWith(MEM).replace('validator.osmo.nvidia.com/v1alpha1', 'v2')).message).toContain(
      'apiVersion',
    );
  });

  it('invalid YAML and duplicate keys', () => {
    expect(errorOf('checks: [', 'x.yaml').message).toMatch(/^x\.yaml: line \d+, column \d+: invalid YAML/);
    expect(
      errorOf(specWith(MEM.replace('severity: fail', 'severity: fail\n    severity: warn'))).message,
    ).toContain('invalid YAML');
  });
});

describe('loadSpec(file)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spec-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an operator spec', async () => {
    const file = join(dir, 'mine.yaml');
    await writeFile(file, specWith(MEM));
    const spec = await loadSpec(file);
    expect(spec.checks).toHaveLength(1);
    expect(spec.metadata).toEqual({ name: 'test', revision: '1' });
  });

  it('names an unreadable file', async () => {
    const file = join(dir, 'missing.yaml');
    await expect(loadSpec(file)).rejects.toThrow(`${file}: cannot read the spec (ENOENT)`);
  });

  it('names the file in validation errors', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, specWith(MEM.replace('8GB', '8 GX')));
    await expect(loadSpec(file)).rejects.toThrow(`${file}: checks[0].roles.operator.min`);
  });
});
