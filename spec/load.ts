// Loading a spec: the built-in baseline (spec/baseline.yaml next to this module; the build copies it into
// dist/spec) or an operator's file. Parse errors and validation errors are SpecError with file and field.
// A spec file without an L4T → JetPack table (`l4tToJetpack`, e.g. one written before the table moved into
// the spec) gets the built-in baseline's, so its Jetsons keep their JetPack release.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, isPair, isScalar, isSeq, type Node, parseDocument, visit } from 'yaml';
import { errorMessage } from '../report/error-message.js';
import type { Spec } from './spec-types.js';
import { type NumberSources, SpecError, validateSpec } from './validate.js';

export type { Spec } from './spec-types.js';
export { SpecError } from './validate.js';

export const BUILTIN_SPEC_URL = new URL('./baseline.yaml', import.meta.url);

/** Parses and validates spec text; `fileName` is only used in error messages. */
export function parseSpec(text: string, fileName: string): Spec {
  const spec = parseSpecDocument(text, fileName);
  return spec.l4tToJetpack === undefined ? { ...spec, l4tToJetpack: builtinJetpackTable() } : spec;
}

let builtinTable: Readonly<Record<string, string>> | undefined;

/** The built-in baseline's l4tToJetpack, read once (synchronously: parseSpec is synchronous). */
function builtinJetpackTable(): Readonly<Record<string, string>> {
  builtinTable ??=
    parseSpecDocument(readFileSync(BUILTIN_SPEC_URL, 'utf8'), basename(fileURLToPath(BUILTIN_SPEC_URL)))
      .l4tToJetpack ?? {};
  return builtinTable;
}

function parseSpecDocument(text: string, fileName: string): Spec {
  // uniqueKeys: a key written twice is almost always a mistake that would silently drop a threshold.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e ? lineCol(text, e.pos[0]) : 'YAML';
    throw new SpecError(fileName, where, `invalid YAML: ${e?.message.split('\n')[0] ?? 'parse error'}`);
  }
  const numbers = numberSources(doc);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    // An alias to a missing anchor or an alias bomb is found only here, and is still the file's fault.
    throw new SpecError(fileName, 'YAML', `invalid YAML: ${errorMessage(e)}`);
  }
  return validateSpec(value, fileName, numbers);
}

/** The source text of every plain YAML number, by field path, for validateSpec's messages. */
function numberSources(doc: Document): NumberSources {
  const numbers = new Map<string, { source: string; value: number }>();
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'number' || node.type !== 'PLAIN' || node.source === undefined) return;
      numbers.set(fieldPath([...ancestors, node]), { source: node.source, value: node.value });
    },
  });
  return numbers;
}

/** `checks[5].roles.gpu.min` for a chain Document → … → node, in the validator's notation. */
function fieldPath(chain: readonly unknown[]): string {
  let path = '';
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) path += `[${parent.items.indexOf(child as Node)}]`;
    else if (isPair(parent) && child === parent.value) {
      const key = isScalar(parent.key) ? String(parent.key.value) : '?';
      path = path ? `${path}.${key}` : key;
    }
  }
  return path;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/** Loads `file`, or the built-in OSMO on-prem baseline when no file is given. */
export async function loadSpec(file?: string): Promise<Spec> {
  const path = file ?? fileURLToPath(BUILTIN_SPEC_URL);
  const name = file ?? basename(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecError(name, '', `cannot read the spec (${code ?? (err as Error).message})`);
  }
  return parseSpec(text, name);
}
