// A small, bounded XML reader for the one XML document the agent reads, `nvidia-smi -q -x`: elements,
// attributes, text, CDATA, comments, processing instructions, one DOCTYPE (its internal subset's general
// entities are read as plain text, with limits), the five predefined entities and character references.
// The whole document is checked for well-formedness (a truncated output is an error wherever it was cut),
// but only the elements named in a `KeepSpec` are built: the rest of a large output costs no objects.
//
// Values have fast-xml-parser's shape (what the GPU probe read before): an element without attributes or
// child elements is its trimmed text; otherwise an object with its kept children (a repeated name → an
// array, in order) and its attributes as `@name`. Entity values are never parsed again (no expansion
// inside expansion), external and parameter entities are refused.

/** Which elements to build: a name → `true` (keep it, not its children) or the spec of its children. */
export interface KeepSpec {
  readonly [name: string]: KeepSpec | true;
}

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

/** Limits of the reader (fast-xml-parser's defaults, which the GPU probe ran with before). */
export const XML_LIMITS = {
  depth: 100,
  entityCount: 1000,
  entitySize: 10_000,
  expandedLength: 100_000,
} as const;

/**
 * Why a document was not read. `refused`: well-formed as far as read, but past a limit or using what the
 * reader does not support (external or parameter entities); otherwise not well-formed at `line`.
 */
export class XmlError extends Error {
  constructor(
    message: string,
    readonly refused: boolean,
    readonly line: number,
  ) {
    super(message);
    this.name = 'XmlError';
  }
}

const NAME = /[A-Za-z_:\u00C0-\uFFFF][\w.:\-\u00B7-\uFFFF]*/y;
const SPACE = /[ \t\r\n]*/y;
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

interface Frame {
  name: string;
  /** The spec of its children when the element is built (true: built, children not); null: not built. */
  spec: KeepSpec | true | null;
  value: XmlObject | null;
  text: string;
  hasChild: boolean;
}

interface Reader {
  xml: string;
  pos: number;
  entities: Map<string, string>;
  expanded: number;
}

function fail(r: Reader, message: string, at = r.pos): never {
  let line = 1;
  for (let i = r.xml.indexOf('\n'); i >= 0 && i < at; i = r.xml.indexOf('\n', i + 1)) line++;
  throw new XmlError(message, false, line);
}

function refuse(message: string): never {
  throw new XmlError(message, true, 0);
}

function skipSpace(r: Reader): boolean {
  SPACE.lastIndex = r.pos;
  SPACE.test(r.xml);
  const moved = SPACE.lastIndex > r.pos;
  r.pos = SPACE.lastIndex;
  return moved;
}

function readName(r: Reader, what: string): string {
  NAME.lastIndex = r.pos;
  const m = NAME.exec(r.xml);
  if (m === null)
    fail(r, r.pos >= r.xml.length ? `the document ends inside ${what}` : `${what} has no valid name`);
  r.pos = NAME.lastIndex;
  return m[0];
}

/** Moves past `end` (searched from the current position); `what` names the construct for the error. */
function skipPast(r: Reader, end: string, what: string): number {
  const at = r.xml.indexOf(end, r.pos);
  if (at < 0) fail(r, `${what} is not closed (no ${JSON.stringify(end)})`);
  r.pos = at + end.length;
  return at;
}

function expandReference(r: Reader, ref: string, at: number): string {
  if (ref.startsWith('#')) {
    const code = /^#x[0-9a-fA-F]{1,6}$/.test(ref)
      ? Number.parseInt(ref.slice(2), 16)
      : /^#[0-9]{1,7}$/.test(ref)
        ? Number(ref.slice(1))
        : Number.NaN;
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    if (!valid) fail(r, `&${ref}; is not a valid character reference`, at);
    return String.fromCodePoint(code);
  }
  const predefined = PREDEFINED[ref];
  if (predefined !== undefined) return predefined;
  const declared = r.entities.get(ref);
  if (declared === undefined) fail(r, `&${ref}; is not a defined entity`, at);
  r.expanded += declared.length;
  if (r.expanded > XML_LIMITS.expandedLength) {
    refuse(
      `entity expansion past the expanded content length limit (${XML_LIMITS.expandedLength} characters)`,
    );
  }
  return declared;
}

/**
 * Character data with its references replaced; `at` is where it starts in the document (for errors).
 * `build` false: the references are only checked (text of an element that is not built).
 */
function decode(r: Reader, raw: string, at: number, build = true): string {
  if (!raw.includes('&')) return raw;
  let out = '';
  let from = 0;
  for (let amp = raw.indexOf('&'); amp >= 0; amp = raw.indexOf('&', from)) {
    const semi = raw.indexOf(';', amp);
    if (semi < 0 || semi - amp > 40) fail(r, "an '&' that starts no entity reference", at + amp);
    const expansion = expandReference(r, raw.slice(amp + 1, semi), at + amp);
    if (build) out += raw.slice(from, amp) + expansion;
    from = semi + 1;
  }
  return build ? out + raw.slice(from) : '';
}

function readQuoted(r: Reader, what: string): string {
  const quote = r.xml[r.pos];
  if (quote !== '"' && quote !== "'") fail(r, `${what} is not quoted`);
  r.pos++;
  const start = r.pos;
  const end = skipPast(r, quote, what);
  return r.xml.slice(start, end);
}

/** The attributes of a start tag, up to its `>` or `/>`; returns whether it closed itself. */
function readAttributes(r: Reader, name: string, into: XmlObject | null): boolean {
  const seen = new Set<string>();
  for (;;) {
    const spaced = skipSpace(r);
    const c = r.xml[r.pos];
    if (c === '>' || (c === '/' && r.xml[r.pos + 1] === '>')) {
      r.pos += c === '>' ? 1 : 2;
      return c === '/';
    }
    if (c === undefined) fail(r, `the document ends inside the start tag <${name}>`);
    if (!spaced) fail(r, `<${name}>: an attribute must follow a space`);
    const attribute = readName(r, `an attribute of <${name}>`);
    if (seen.has(attribute)) fail(r, `<${name}>: attribute ${attribute} is repeated`);
    seen.add(attribute);
    skipSpace(r);
    if (r.xml[r.pos] !== '=') fail(r, `<${name}>: attribute ${attribute} has no value`);
    r.pos++;
    skipSpace(r);
    const at = r.pos + 1;
    const raw = readQuoted(r, `attribute ${attribute} of <${name}>`);
    if (raw.includes('<')) fail(r, `<${name}>: attribute ${attribute} holds a '<'`, at);
    const value = decode(r, raw, at);
    if (into !== null) into[`@${attribute}`] = value.trim();
  }
}

/** One `<!ENTITY …>` of the internal subset (after `<!ENTITY`). */
function readEntityDeclaration(r: Reader): void {
  if (!skipSpace(r)) fail(r, '<!ENTITY must be followed by a space');
  if (r.xml[r.pos] === '%') refuse('parameter entities (<!ENTITY % …>) are not supported');
  const name = readName(r, 'an entity declaration');
  skipSpace(r);
  if (r.xml.startsWith('SYSTEM', r.pos) || r.xml.startsWith('PUBLIC', r.pos)) {
    refuse(`external entities are not supported (entity ${name})`);
  }
  const value = readQuoted(r, `the value of entity ${name}`);
  skipSpace(r);
  if (r.xml[r.pos] !== '>') fail(r, `entity ${name}'s declaration is not closed by '>'`);
  r.pos++;
  if (value.length > XML_LIMITS.entitySize) {
    refuse(`entity ${name} is ${value.length} characters, past the size limit of ${XML_LIMITS.entitySize}`);
  }
  if (!r.entities.has(name)) {
    if (r.entities.size >= XML_LIMITS.entityCount) {
      refuse(`entity count past the limit of ${XML_LIMITS.entityCount} declarations`);
    }
    r.entities.set(name, value);
  }
}

/** The internal subset `[ … ]` of the DOCTYPE (after its `[`). */
function readInternalSubset(r: Reader): void {
  for (;;) {
    skipSpace(r);
    if (r.pos >= r.xml.length) fail(r, 'the document ends inside the DOCTYPE');
    if (r.xml[r.pos] === ']') {
      r.pos++;
      return;
    }
    if (r.xml.startsWith('<!ENTITY', r.pos)) {
      r.pos += 8;
      readEntityDeclaration(r);
    } else if (r.xml.startsWith('<!--', r.pos)) skipPast(r, '-->', 'a comment');
    else if (r.xml.startsWith('<?', r.pos)) skipPast(r, '?>', 'a processing instruction');
    else if (r.xml[r.pos] === '%') refuse('parameter entity references are not supported');
    else if (r.xml.startsWith('<!', r.pos)) skipDeclaration(r);
    else fail(r, 'unexpected text in the DOCTYPE');
  }
}

/** `<!ELEMENT …>`, `<!ATTLIST …>`, `<!NOTATION …>`: skipped up to their `>`, quoted parts included. */
function skipDeclaration(r: Reader): void {
  r.pos += 2;
  for (;;) {
    const c = r.xml[r.pos];
    if (c === undefined) fail(r, 'the document ends inside a DOCTYPE declaration');
    if (c === '>') {
      r.pos++;
      return;
    }
    if (c === '"' || c === "'") readQuoted(r, 'a quoted part of a declaration');
    else r.pos++;
  }
}

/** `<!DOCTYPE name [SYSTEM "…" | PUBLIC "…" "…"] [[ … ]]>` (after `<!DOCTYPE`). */
function readDoctype(r: Reader): void {
  if (!skipSpace(r)) fail(r, '<!DOCTYPE must be followed by a space');
  readName(r, 'the DOCTYPE');
  skipSpace(r);
  const external = r.xml.startsWith('SYSTEM', r.pos) ? 1 : r.xml.startsWith('PUBLIC', r.pos) ? 2 : 0;
  if (external > 0) {
    r.pos += 6;
    for (let i = 0; i < external; i++) {
      skipSpace(r);
      readQuoted(r, 'the DOCTYPE identifier');
    }
    skipSpace(r);
  }
  if (r.xml[r.pos] === '[') {
    r.pos++;
    readInternalSubset(r);
    skipSpace(r);
  }
  if (r.xml[r.pos] !== '>')
    fail(
      r,
      r.pos >= r.xml.length ? 'the document ends inside the DOCTYPE' : 'the DOCTYPE is not closed by >',
    );
  r.pos++;
}

/** Before the root element: the XML declaration, comments, processing instructions, one DOCTYPE. */
function readProlog(r: Reader): void {
  if (r.xml.charCodeAt(0) === 0xfeff) r.pos = 1;
  let doctype = false;
  for (;;) {
    skipSpace(r);
    if (r.xml.startsWith('<?', r.pos)) skipPast(r, '?>', 'a processing instruction');
    else if (r.xml.startsWith('<!--', r.pos)) skipPast(r, '-->', 'a comment');
    else if (r.xml.startsWith('<!DOCTYPE', r.pos)) {
      if (doctype) fail(r, 'a second DOCTYPE');
      doctype = true;
      r.pos += 9;
      readDoctype(r);
    } else if (r.xml[r.pos] === '<') return;
    else fail(r, r.pos >= r.xml.length ? 'no root element' : 'text before the root element');
  }
}

/** After the root element: only space, comments and processing instructions. */
function readEpilog(r: Reader): void {
  for (;;) {
    skipSpace(r);
    if (r.pos >= r.xml.length) return;
    if (r.xml.startsWith('<?', r.pos)) skipPast(r, '?>', 'a processing instruction');
    else if (r.xml.startsWith('<!--', r.pos)) skipPast(r, '-->', 'a comment');
    else fail(r, r.xml[r.pos] === '<' ? 'a second root element' : 'text after the root element');
  }
}

function attach(parent: XmlObject, name: string, value: XmlValue): void {
  const had = parent[name];
  if (had === undefined) parent[name] = value;
  else if (Array.isArray(had)) had.push(value);
  else parent[name] = [had, value];
}

/** A closed element's value: its text when it has neither attributes nor child elements. */
function closedValue(frame: Frame): XmlValue {
  const value = frame.value as XmlObject;
  return frame.hasChild || Object.keys(value).length > 0 ? value : frame.text.trim();
}

/** The spec of a child named `name` of an element built with `spec` (null: not built). */
function childSpec(spec: KeepSpec | true | null, name: string): KeepSpec | true | null {
  return spec === null || spec === true ? null : (spec[name] ?? null);
}

function openElement(r: Reader, stack: Frame[], document: XmlObject, keep: KeepSpec): void {
  r.pos++;
  const name = readName(r, 'a start tag');
  const parent = stack[stack.length - 1];
  if (parent !== undefined) parent.hasChild = true;
  const spec = childSpec(parent === undefined ? keep : parent.spec, name);
  const frame: Frame = { name, spec, value: spec === null ? null : {}, text: '', hasChild: false };
  if (readAttributes(r, name, frame.value)) closeFrame(frame, stack, document);
  else {
    if (stack.length >= XML_LIMITS.depth) {
      refuse(`elements nested deeper than ${XML_LIMITS.depth} (the nested tags limit)`);
    }
    stack.push(frame);
  }
}

function closeFrame(frame: Frame, stack: Frame[], document: XmlObject): void {
  if (frame.value === null) return;
  const parent = stack[stack.length - 1];
  attach(parent === undefined ? document : (parent.value as XmlObject), frame.name, closedValue(frame));
}

function closeElement(r: Reader, stack: Frame[], document: XmlObject): void {
  r.pos += 2;
  const name = readName(r, 'an end tag');
  skipSpace(r);
  if (r.xml[r.pos] !== '>')
    fail(r, r.pos >= r.xml.length ? `the document ends inside </${name}>` : `</${name}> is not closed by >`);
  r.pos++;
  const frame = stack.pop();
  if (frame === undefined || frame.name !== name) {
    fail(r, frame === undefined ? `</${name}> closes nothing` : `</${name}> closes <${frame.name}>`);
  }
  closeFrame(frame, stack, document);
}

function addText(r: Reader, stack: Frame[], raw: string, at: number): void {
  const top = stack[stack.length - 1] as Frame;
  const text = decode(r, raw, at, top.value !== null);
  if (top.value !== null) top.text += text;
}

/** The root element and everything in it. */
function readContent(r: Reader, rootSpec: KeepSpec): XmlObject {
  const document: XmlObject = {};
  const stack: Frame[] = [];
  openElement(r, stack, document, rootSpec);
  while (stack.length > 0) {
    const lt = r.xml.indexOf('<', r.pos);
    if (lt < 0)
      fail(r, `the document ends inside <${(stack[stack.length - 1] as Frame).name}>`, r.xml.length);
    if (lt > r.pos) addText(r, stack, r.xml.slice(r.pos, lt), r.pos);
    r.pos = lt;
    if (r.xml.startsWith('</', lt)) closeElement(r, stack, document);
    else if (r.xml.startsWith('<!--', lt)) skipPast(r, '-->', 'a comment');
    else if (r.xml.startsWith('<![CDATA[', lt)) {
      r.pos += 9;
      const start = r.pos;
      const end = skipPast(r, ']]>', 'a CDATA section');
      const top = stack[stack.length - 1] as Frame;
      if (top.value !== null) top.text += r.xml.slice(start, end);
    } else if (r.xml.startsWith('<?', lt)) skipPast(r, '?>', 'a processing instruction');
    else if (r.xml.startsWith('<!', lt)) fail(r, 'a declaration inside the root element');
    else openElement(r, stack, document, rootSpec);
  }
  return document;
}

/**
 * Reads `xml`, building only the elements `keep` names (from the root down). Throws XmlError when it is
 * not well-formed, is past a limit, or uses what the reader refuses.
 */
export function readXml(xml: string, keep: KeepSpec): XmlObject {
  const r: Reader = { xml, pos: 0, entities: new Map(), expanded: 0 };
  readProlog(r);
  const document = readContent(r, keep);
  readEpilog(r);
  return document;
}
