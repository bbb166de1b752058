// The agent's own XML reader (agent/probes/xml-reader.ts), which replaced fast-xml-parser on the agent's
// path: held to fast-xml-parser (the reference, configured as the GPU probe ran it) on every real
// `nvidia-smi -q -x` output and on mangled copies of them, then its own rules and limits.
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { NVIDIA_SMI_FIELDS, parseNvidiaSmiXml } from '../../../agent/probes/gpu.js';
import { type KeepSpec, readXml, XML_LIMITS, XmlError } from '../../../agent/probes/xml-reader.js';
import { realFixturePath } from '../../helpers/fixture-host.js';

const DIR = 'nvidia-smi';
const FILES = readdirSync(realFixturePath(DIR)).filter((f) => f.endsWith('.xml'));
const SAMPLES = FILES.map((f) => readFileSync(realFixturePath(`${DIR}/${f}`), 'utf8'));

/** What the GPU probe reads. */
const SPEC: KeepSpec = NVIDIA_SMI_FIELDS;

/** fast-xml-parser as the GPU probe used it: validate, then parse with attributes as `@name`. */
function reference(xml: string): unknown {
  if (XMLValidator.validate(xml) !== true) throw new Error('not well-formed');
  return new XMLParser({ parseTagValue: false, ignoreAttributes: false, attributeNamePrefix: '@' }).parse(
    xml,
  );
}

/** The reference's tree cut to the elements `spec` keeps (attributes of kept elements stay). */
function project(value: unknown, spec: KeepSpec | true): unknown {
  if (Array.isArray(value)) return value.map((v) => project(v, spec));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key.startsWith('@')) out[key] = v;
    else if (spec !== true && spec[key] !== undefined) out[key] = project(v, spec[key]);
  }
  return out;
}

function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch {
    return { ok: false };
  }
}

describe('readXml against fast-xml-parser', () => {
  it.each(FILES)('%s: the same elements', (file) => {
    const xml = readFileSync(realFixturePath(`${DIR}/${file}`), 'utf8');
    const tree = readXml(xml, SPEC);
    expect(tree).toEqual(project(reference(xml), SPEC));
    // Something was read: the root with its driver version and at least one GPU.
    expect(tree).toMatchObject({ nvidia_smi_log: { driver_version: expect.any(String) } });
  });

  it.each(FILES)('%s: the same GPU facts as the fast-xml-parser reading', async (file) => {
    const xml = readFileSync(realFixturePath(`${DIR}/${file}`), 'utf8');
    const log = (project(reference(xml), SPEC) as { nvidia_smi_log: Record<string, unknown> }).nvidia_smi_log;
    const gpus = ([] as unknown[]).concat(log['gpu'] ?? []) as Array<Record<string, unknown>>;
    const summary = await parseNvidiaSmiXml(xml);
    expect(summary.devices.map((d) => d.uuid)).toEqual(gpus.map((g) => g['uuid']));
    expect(summary.productBrands).toEqual(gpus.map((g) => g['product_brand']));
    expect(xml).toContain(`<driver_version>${summary.driverVersion}`);
    expect(String(summary.attachedGpus)).toBe(log['attached_gpus']);
  });

  it('mangled real outputs: whenever both read a document, they build the same elements', () => {
    const insert = (s: string, n: number, what: string) => {
      const at = n % (s.length + 1);
      return s.slice(0, at) + what + s.slice(at);
    };
    const markup = [
      '<',
      '>',
      '&',
      '"',
      '/',
      '<a>',
      '</a>',
      '<!--',
      '&amp;',
      ' x="1"',
      '<![CDATA[',
      ']]>',
      '\n',
    ];
    const mangled = fc.oneof(
      fc.tuple(fc.constantFrom(...SAMPLES), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
      fc
        .tuple(fc.constantFrom(...SAMPLES), fc.nat(), fc.string({ unit: 'binary', maxLength: 30 }))
        .map(([s, n, what]) => insert(s, n, what)),
      fc
        .tuple(fc.constantFrom(...SAMPLES), fc.nat(), fc.constantFrom(...markup))
        .map(([s, n, what]) => insert(s, n, what)),
    );
    let both = 0;
    fc.assert(
      fc.property(mangled, (xml) => {
        const ours = outcome(() => readXml(xml, SPEC));
        const theirs = outcome(() => project(reference(xml), SPEC));
        if (ours.ok && theirs.ok) {
          both++;
          expect(isDeepStrictEqual(ours.value, theirs.value)).toBe(true);
        }
      }),
      { numRuns: 300, seed: 16 },
    );
    // The property was exercised, not vacuously true.
    expect(both).toBeGreaterThan(25);
  });
});

describe('readXml', () => {
  const read = (xml: string, spec: KeepSpec = { a: { b: true, c: { d: true } } }) => readXml(xml, spec);
  const error = (xml: string) => {
    try {
      read(xml);
    } catch (e) {
      if (e instanceof XmlError) return e;
      throw e;
    }
    throw new Error(`read ${JSON.stringify(xml)} without an error`);
  };

  it('builds only the kept elements: text, attributes, repeats as arrays', () => {
    expect(read('<a x=" 1 "><b> t </b><skip><b>no</b></skip><b>u</b><c><d>v</d><e/></c></a>')).toEqual({
      a: { '@x': '1', b: ['t', 'u'], c: { d: 'v' } },
    });
    // An element kept without its children is an object (it has them), not their text.
    expect(read('<a><b><i>x</i></b></a>')).toEqual({ a: { b: {} } });
    expect(read('<a/>')).toEqual({ a: '' });
    expect(read('<z><b>1</b></z>')).toEqual({});
  });

  it('replaces entity and character references, reads CDATA, skips comments and instructions', () => {
    const xml = `<?xml version="1.0" ?>\n<!DOCTYPE a SYSTEM "x.dtd">\n<!-- c --><a><b>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;<![CDATA[<&>]]><?pi x?></b></a>\n`;
    expect(read(xml)).toEqual({ a: { b: `<&>"'AB<&>` } });
    expect(read('<!DOCTYPE a [<!ENTITY e "v&lt;"><!ELEMENT a ANY>]><a><b>&e;</b></a>')).toEqual({
      a: { b: 'v&lt;' },
    });
  });

  it.each([
    ['<a><b>1</b>', /ends inside <a>/],
    ['<a><b>1</c></a>', /<\/c> closes <b>/],
    ['<a/><a/>', /second root/],
    ['<a/>junk', /text after the root/],
    ['junk<a/>', /text before the root/],
    ['', /no root element/],
    ['<a>&nope;</a>', /not a defined entity/],
    ['<a>AT&T</a>', /starts no entity reference/],
    ['<a>&#0;</a>', /not a valid character reference/],
    ['<a b="1" b="2"/>', /repeated/],
    ['<a b=1/>', /not quoted/],
    ['<a b="<"/>', /holds a '<'/],
    ['<a><!-- x </a>', /comment is not closed/],
    ['<a\n\n', /ends inside the start tag/],
  ])('%j is not well-formed: %s', (xml, message) => {
    const e = error(xml);
    expect(e.refused).toBe(false);
    expect(e.message).toMatch(message);
  });

  it('says on which line a document stops being well-formed', () => {
    expect(error('<a>\n<b>\n</c>\n</a>').line).toBe(3);
  });

  it.each([
    ['nesting', `${'<a>'.repeat(XML_LIMITS.depth + 1)}${'</a>'.repeat(XML_LIMITS.depth + 1)}`, /nested tags/],
    [
      'entity count',
      `<!DOCTYPE a [${Array.from({ length: XML_LIMITS.entityCount + 1 }, (_, i) => `<!ENTITY e${i} "1">`).join('')}]><a/>`,
      /entity count/,
    ],
    [
      'entity size',
      `<!DOCTYPE a [<!ENTITY e "${'9'.repeat(XML_LIMITS.entitySize + 1)}">]><a/>`,
      /size limit/,
    ],
    [
      'expansion',
      `<!DOCTYPE a [<!ENTITY e "${'9'.repeat(XML_LIMITS.entitySize)}">]><a>${'&e;'.repeat(11)}</a>`,
      /expanded content length/,
    ],
    ['an external entity', '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>', /external/],
    ['a parameter entity', '<!DOCTYPE a [<!ENTITY % p "x">]><a/>', /parameter entities/],
  ])('refuses %s', (_what, xml, message) => {
    const e = error(xml);
    expect(e.refused).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('accepts nesting up to the limit', () => {
    const depth = XML_LIMITS.depth;
    expect(read(`${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`)).toEqual({ a: {} });
  });
});
