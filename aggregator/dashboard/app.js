// @ts-check
// The fleet dashboard: a client of GET /api/v1/* and nothing else. Views are chosen by the URL hash
// (#/?filters, #/node/<name>, #/check/<id>) so every filter is a deep link; the data is polled with
// If-None-Match (the API answers 304 when nothing changed) and the page re-renders without a reload.
// Everything is built with DOM calls and textContent: no HTML from data ever reaches innerHTML.

const API = '/api/v1';
const TOKEN_KEY = 'osmo-node-validator.token';
/** Poll period; `?poll=<ms>` on the page URL overrides it (tests, screenshots). */
const POLL_MS = Math.max(200, Number(new URLSearchParams(location.search).get('poll')) || 5000);
const PAGE_SIZES = [50, 100, 250, 500];
const DEFAULT_PAGE_SIZE = 100;
const ROLES = ['control-plane', 'operator', 'compute', 'gpu', 'jetson'];
const VERDICTS = ['pass', 'warn', 'fail', 'unknown'];
/** A symbol beside every status colour, so colour is never the only signal. */
const SYMBOL = { pass: '✓', warn: '!', fail: '✗', error: '✗', unknown: '?', skip: '–' };
/** Worst first, for sorting by verdict or status. */
const SEVERITY = { fail: 0, error: 0, unknown: 1, warn: 2, skip: 3, pass: 4 };

// ---------------------------------------------------------------------------------------------- DOM

/**
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2), /** @type {any} */ (v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
  return el;
}

/** @param {string} status */
function badge(status, extra = '') {
  const s = status in SYMBOL ? status : 'unknown';
  return h(
    'span',
    { class: `badge s-${s}` },
    `${SYMBOL[/** @type {keyof typeof SYMBOL} */ (s)]} ${status}`,
    extra,
  );
}

/** @param {string | null | undefined} iso */
function relative(iso) {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** @param {string | null | undefined} iso */
function timeEl(iso) {
  return h('time', iso ? { datetime: iso, title: iso } : {}, relative(iso));
}

/** @param {Record<string, string>} params */
function hashFor(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined));
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

const nodeLink = (/** @type {string} */ name) =>
  h('a', { href: hashFor(`/node/${encodeURIComponent(name)}`) }, name);
const checkLink = (/** @type {string} */ id) =>
  h('a', { href: hashFor(`/check/${encodeURIComponent(id)}`) }, id);

// ---------------------------------------------------------------------------------------------- API

class AuthNeeded extends Error {}
class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** @type {Map<string, { etag: string | null, data: any }>} */
const cache = new Map();

/** GET an API path; `changed` is false when the server answered 304 to the ETag we hold. */
async function getJson(/** @type {string} */ path) {
  const prev = cache.get(path);
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (prev?.etag) headers['if-none-match'] = prev.etag;
  const res = await fetch(API + path, { headers, cache: 'no-store' });
  if (res.status === 304 && prev) return { data: prev.data, changed: false };
  if (res.status === 401) throw new AuthNeeded('the API needs a bearer token');
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).message ?? message;
    } catch {}
    throw new HttpError(res.status, message);
  }
  const data = await res.json();
  cache.set(path, { etag: res.headers.get('etag'), data });
  return { data, changed: true };
}

// ---------------------------------------------------------------------------------------------- routing

function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  if (path.startsWith('/node/')) return { view: 'node', arg: decodeURIComponent(path.slice(6)), params };
  if (path.startsWith('/check/')) return { view: 'check', arg: decodeURIComponent(path.slice(7)), params };
  return { view: 'fleet', arg: '', params };
}

/** The fleet view's filters, as in the hash. */
function fleetFilters(/** @type {URLSearchParams} */ p) {
  const size = Number(p.get('size'));
  return {
    role: p.get('role') ?? '',
    verdict: p.get('verdict') ?? '',
    check: p.get('check') ?? '',
    q: p.get('q') ?? '',
    sort: p.get('sort') ?? 'verdict',
    dir: p.get('dir') === 'desc' ? 'desc' : 'asc',
    page: Math.max(1, Math.floor(Number(p.get('page')) || 1)),
    size: PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** Replace the filters in the hash (no history entry per keystroke) and render again. */
function setFilters(/** @type {Partial<ReturnType<typeof fleetFilters>>} */ change) {
  const f = { ...fleetFilters(route().params), page: 1, ...change };
  /** @type {Record<string, string>} */
  const params = {
    role: f.role,
    verdict: f.verdict,
    check: f.check,
    q: f.q,
    sort: f.sort === 'verdict' ? '' : f.sort,
    dir: f.dir === 'asc' ? '' : f.dir,
    page: f.page > 1 ? String(f.page) : '',
    size: f.size === DEFAULT_PAGE_SIZE ? '' : String(f.size),
  };
  history.replaceState(null, '', hashFor('/', params));
  void refresh(true);
}

// ---------------------------------------------------------------------------------------------- fleet

/** The table's columns: header, sort key, cell. */
const COLUMNS = [
  { key: 'name', label: 'Node', cell: (/** @type {any} */ n) => nodeLink(n.name) },
  { key: 'role', label: 'Role', cell: (/** @type {any} */ n) => n.role },
  { key: 'verdict', label: 'Verdict', cell: verdictCell },
  {
    key: 'failing',
    label: 'Failing checks',
    cell: (/** @type {any} */ n) =>
      n.failingChecks.length === 0
        ? '—'
        : h(
            'span',
            { class: 'ids' },
            ...n.failingChecks.flatMap((/** @type {string} */ id) => [checkLink(id), ' ']),
          ),
  },
  { key: 'last', label: 'Last report', cell: (/** @type {any} */ n) => timeEl(n.lastReportAt) },
  { key: 'driver', label: 'Driver', cell: (/** @type {any} */ n) => n.versions?.driver ?? '—' },
  { key: 'cuda', label: 'CUDA', cell: (/** @type {any} */ n) => n.versions?.cuda ?? '—' },
  { key: 'jetpack', label: 'JetPack', cell: (/** @type {any} */ n) => n.versions?.jetpack ?? '—' },
  { key: 'containerd', label: 'containerd', cell: (/** @type {any} */ n) => n.versions?.containerd ?? '—' },
  { key: 'taint', label: 'Taint', cell: (/** @type {any} */ n) => taintText(n.written) },
  { key: 'condition', label: 'Condition', cell: (/** @type {any} */ n) => conditionText(n.written) },
];

function verdictCell(/** @type {any} */ n) {
  const reason = n.reason ?? (n.lastReportAt === null ? 'never reported to this aggregator' : null);
  return h(
    'span',
    {},
    badge(n.verdict),
    n.stale ? h('span', { class: 'note' }, ' stale') : null,
    reason ? h('div', { class: 'note' }, reason) : null,
  );
}

function taintText(/** @type {any} */ w) {
  if (!w) return '—';
  if (!w.taint) return 'none';
  return `${w.taint.key}${w.taint.value ? `=${w.taint.value}` : ''}:${w.taint.effect}`;
}

function conditionText(/** @type {any} */ w) {
  if (!w?.condition) return '—';
  return `${w.condition.status}${w.condition.reason ? ` (${w.condition.reason})` : ''}`;
}

/** Dotted versions compare by their numbers (535.54 < 535.216); missing values sort last. */
function compareVersions(/** @type {string | null} */ a, /** @type {string | null} */ b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : 1;
}

/** @type {Record<string, (a: any, b: any) => number>} */
const SORTERS = {
  name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  role: (a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role),
  verdict: (a, b) => (SEVERITY[a.verdict] ?? 9) - (SEVERITY[b.verdict] ?? 9),
  failing: (a, b) => b.failingChecks.length - a.failingChecks.length,
  last: (a, b) => (a.lastReportAt ?? '').localeCompare(b.lastReportAt ?? ''),
  driver: (a, b) => compareVersions(a.versions?.driver ?? null, b.versions?.driver ?? null),
  cuda: (a, b) => compareVersions(a.versions?.cuda ?? null, b.versions?.cuda ?? null),
  jetpack: (a, b) => compareVersions(a.versions?.jetpack ?? null, b.versions?.jetpack ?? null),
  containerd: (a, b) => compareVersions(a.versions?.containerd ?? null, b.versions?.containerd ?? null),
  taint: (a, b) => taintText(a.written).localeCompare(taintText(b.written)),
  condition: (a, b) => conditionText(a.written).localeCompare(conditionText(b.written)),
};

/** What the text search looks at. */
function searchText(/** @type {any} */ n) {
  const v = n.versions ?? {};
  return [n.name, n.role, n.verdict, n.reason, ...n.failingChecks, v.driver, v.cuda, v.jetpack, v.containerd]
    .concat(taintText(n.written), conditionText(n.written))
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
}

/** Filtered and sorted rows (the name breaks ties so pages are stable). */
function selectRows(/** @type {any[]} */ nodes, /** @type {ReturnType<typeof fleetFilters>} */ f) {
  const q = f.q.trim().toLowerCase();
  const rows = nodes.filter(
    (n) =>
      (!f.role || n.role === f.role) &&
      (!f.verdict || (f.verdict === 'stale' ? n.stale : n.verdict === f.verdict)) &&
      (!f.check || n.failingChecks.includes(f.check)) &&
      (!q || searchText(n).includes(q)),
  );
  const by = SORTERS[f.sort] ?? SORTERS['verdict'];
  const sign = f.dir === 'desc' ? -1 : 1;
  return rows.sort((a, b) => sign * by(a, b) || SORTERS['name'](a, b));
}

function renderFleet(
  /** @type {any} */ summary,
  /** @type {any} */ list,
  /** @type {URLSearchParams} */ params,
) {
  performance.mark('onv-render-start');
  const f = fleetFilters(params);
  const view = fleetSkeleton(list.nodes, f);
  view.querySelector('#tiles')?.replaceWith(renderTiles(summary, list.nodes));
  const rows = selectRows(list.nodes, f);
  const pages = Math.max(1, Math.ceil(rows.length / f.size));
  const page = Math.min(f.page, pages);
  const shown = rows.slice((page - 1) * f.size, page * f.size);
  view.querySelector('#nodes')?.replaceWith(renderTable(shown, f));
  view.querySelector('#pager')?.replaceWith(renderPager(rows.length, list.nodes.length, page, pages, f));
  performance.measure('onv-render', 'onv-render-start');
}

/** The fleet view's frame and filter form, built once per visit so typing keeps its focus. */
function fleetSkeleton(/** @type {any[]} */ nodes, /** @type {ReturnType<typeof fleetFilters>} */ f) {
  const main = /** @type {HTMLElement} */ (document.getElementById('view'));
  let view = main.querySelector('[data-view="fleet"]');
  if (!view) {
    view = h(
      'div',
      { 'data-view': 'fleet' },
      h('section', { id: 'tiles' }),
      filterForm(),
      h('div', { id: 'pager' }),
      h('div', { id: 'nodes' }),
    );
    main.replaceChildren(view);
  }
  syncFilterForm(/** @type {HTMLElement} */ (view), nodes, f);
  return /** @type {HTMLElement} */ (view);
}

function select(
  /** @type {string} */ id,
  /** @type {string} */ label,
  /** @type {string[]} */ options,
  /** @type {(v: string) => void} */ onChange,
) {
  return h(
    'label',
    {},
    label,
    ' ',
    h(
      'select',
      {
        id,
        onchange: (/** @type {Event} */ e) => onChange(/** @type {HTMLSelectElement} */ (e.target).value),
      },
      h('option', { value: '' }, 'any'),
      ...options.map((o) => h('option', { value: o }, o)),
    ),
  );
}

function filterForm() {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  return h(
    'form',
    {
      id: 'filters',
      class: 'filters',
      role: 'search',
      onsubmit: (/** @type {Event} */ e) => e.preventDefault(),
    },
    select('f-role', 'Role', ROLES, (role) => setFilters({ role })),
    select('f-verdict', 'Verdict', [...VERDICTS, 'stale'], (verdict) => setFilters({ verdict })),
    select('f-check', 'Failing check', [], (check) => setFilters({ check })),
    h(
      'label',
      {},
      'Search ',
      h('input', {
        id: 'f-q',
        type: 'search',
        placeholder: 'name, check, version…',
        oninput: (/** @type {Event} */ e) => {
          const q = /** @type {HTMLInputElement} */ (e.target).value;
          clearTimeout(typing);
          typing = setTimeout(() => setFilters({ q }), 150);
        },
      }),
    ),
    h('a', { href: '#/', class: 'reset' }, 'Clear filters'),
  );
}

/** The form shows the hash's filters; the check list holds every failing check id in the fleet. */
function syncFilterForm(
  /** @type {HTMLElement} */ view,
  /** @type {any[]} */ nodes,
  /** @type {ReturnType<typeof fleetFilters>} */ f,
) {
  const ids = [...new Set(nodes.flatMap((n) => n.failingChecks))].sort();
  if (f.check && !ids.includes(f.check)) ids.push(f.check);
  const check = /** @type {HTMLSelectElement} */ (view.querySelector('#f-check'));
  const have = [...check.options].slice(1).map((o) => o.value);
  if (have.join('\n') !== ids.join('\n')) {
    check.replaceChildren(
      h('option', { value: '' }, 'any'),
      ...ids.map((id) => h('option', { value: id }, id)),
    );
  }
  /** @type {Array<[string, string]>} */
  const values = [
    ['#f-role', f.role],
    ['#f-verdict', f.verdict],
    ['#f-check', f.check],
    ['#f-q', f.q],
  ];
  for (const [sel, value] of values) {
    const el = /** @type {HTMLInputElement} */ (view.querySelector(sel));
    if (el !== document.activeElement && el.value !== value) el.value = value;
  }
}

function renderTable(/** @type {any[]} */ rows, /** @type {ReturnType<typeof fleetFilters>} */ f) {
  const head = COLUMNS.map((c) => {
    const active = f.sort === c.key;
    const dir = active && f.dir === 'asc' ? 'desc' : 'asc';
    return h(
      'th',
      { scope: 'col', 'aria-sort': active ? (f.dir === 'asc' ? 'ascending' : 'descending') : 'none' },
      h(
        'button',
        { type: 'button', 'data-sort': c.key, onclick: () => setFilters({ sort: c.key, dir, page: f.page }) },
        c.label,
        active ? (f.dir === 'asc' ? ' ▲' : ' ▼') : '',
      ),
    );
  });
  const body = rows.map((n) =>
    h(
      'tr',
      { 'data-node': n.name, class: `v-${n.verdict}` },
      ...COLUMNS.map((c) => h('td', { 'data-col': c.key }, c.cell(n))),
    ),
  );
  return h(
    'div',
    { id: 'nodes', class: 'scroll' },
    h('table', { class: 'nodes' }, h('thead', {}, h('tr', {}, ...head)), h('tbody', {}, ...body)),
    rows.length === 0 ? h('p', { class: 'empty' }, 'No node matches these filters.') : null,
  );
}

function renderPager(
  /** @type {number} */ matching,
  /** @type {number} */ total,
  /** @type {number} */ page,
  /** @type {number} */ pages,
  /** @type {ReturnType<typeof fleetFilters>} */ f,
) {
  const go = (/** @type {number} */ p) => () => setFilters({ ...f, page: p });
  return h(
    'div',
    { id: 'pager', class: 'pager' },
    h('span', { id: 'match-count' }, `${matching} of ${total} nodes`),
    h('button', { type: 'button', disabled: page <= 1, onclick: go(page - 1) }, '‹ Previous'),
    h('span', { id: 'page-of' }, `page ${page} of ${pages}`),
    h('button', { type: 'button', disabled: page >= pages, onclick: go(page + 1) }, 'Next ›'),
    h(
      'label',
      {},
      'Rows ',
      h(
        'select',
        {
          id: 'f-size',
          onchange: (/** @type {Event} */ e) =>
            setFilters({ ...f, page: 1, size: Number(/** @type {HTMLSelectElement} */ (e.target).value) }),
        },
        ...PAGE_SIZES.map((s) => h('option', { value: s, selected: s === f.size }, s)),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- tiles

function renderTiles(/** @type {any} */ s, /** @type {any[]} */ nodes) {
  const never = nodes.filter((n) => n.lastReportAt === null || n.reason).length;
  return h(
    'section',
    { id: 'tiles', class: 'tiles' },
    roleVerdictTile(s),
    h(
      'article',
      { class: 'tile', id: 'tile-agents' },
      h('h2', {}, 'Agents'),
      h('p', { class: 'big' }, `${s.total}`, h('span', { class: 'unit' }, ' nodes')),
      h(
        'p',
        { class: s.stale > 0 ? 'warn-text' : '' },
        h('a', { href: hashFor('/', { verdict: 'stale' }) }, `${s.stale} stale`),
        ' (no report within the stale interval)',
      ),
      h('p', { class: never > 0 ? 'warn-text' : '' }, `${never} never reported to this aggregator`),
    ),
    clusterChecksTile(s.clusterChecks ?? []),
    specTile(s.spec),
    heldTile(s),
  );
}

function roleVerdictTile(/** @type {any} */ s) {
  const cols = [...VERDICTS, 'stale', 'total'];
  const link = (/** @type {string} */ role, /** @type {string} */ col, /** @type {number} */ n) =>
    n === 0
      ? h('span', { class: 'zero' }, '0')
      : h('a', { href: hashFor('/', { role, verdict: col === 'total' ? '' : col }) }, String(n));
  const rows = [...ROLES, ''].map((role) => {
    const c = role ? s.byRole?.[role] : s.byVerdict;
    if (!c || (role && c.total === 0)) return null;
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, role || 'all'),
      ...cols.map((col) => h('td', { class: `c-${col}` }, link(role, col, c[col] ?? 0))),
    );
  });
  return h(
    'article',
    { class: 'tile wide', id: 'tile-roles' },
    h('h2', {}, 'Nodes by role and verdict'),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'matrix' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'role'),
            ...cols.map((c) => h('th', { scope: 'col' }, c in SYMBOL ? badge(c) : c)),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    ),
  );
}

function clusterChecksTile(/** @type {any[]} */ checks) {
  return h(
    'article',
    { class: 'tile', id: 'tile-cluster' },
    h('h2', {}, 'Cluster checks'),
    checks.length === 0
      ? h('p', { class: 'note' }, 'None (standalone, without Kubernetes).')
      : h(
          'ul',
          { class: 'plain' },
          ...checks.map((c) =>
            h('li', {}, badge(c.status), ' ', h('strong', {}, c.id), h('div', { class: 'note' }, c.message)),
          ),
        ),
  );
}

function specTile(/** @type {any} */ spec) {
  if (!spec)
    return h(
      'article',
      { class: 'tile', id: 'tile-spec' },
      h('h2', {}, 'Spec in force'),
      h('p', { class: 'note' }, 'not reported by this aggregator'),
    );
  return h(
    'article',
    { class: 'tile', id: 'tile-spec' },
    h('h2', {}, 'Spec in force'),
    h('p', {}, h('strong', {}, spec.name ?? '(unnamed)'), spec.revision ? ` revision ${spec.revision}` : ''),
    spec.loadedAt ? h('p', { class: 'note' }, 'in force since ', timeEl(spec.loadedAt)) : null,
    spec.reloadError
      ? h(
          'p',
          { class: 'fail-text', id: 'spec-error' },
          `${SYMBOL.fail} reload refused, the spec above stays in force: ${spec.reloadError}`,
        )
      : h('p', { class: 'note' }, `${SYMBOL.pass} the file on disk is the spec in force`),
  );
}

/** The mass-change guard (summary.guard) when the aggregator reports one; any shape is shown as text. */
function heldTile(/** @type {any} */ s) {
  const guard = s.guard;
  /** @type {Array<Node | string>} */
  let body;
  if (guard === undefined || guard === null) body = [h('p', { class: 'note' }, 'No change guard reported.')];
  else if (typeof guard !== 'object') body = [h('p', {}, String(guard))];
  else {
    const holding = Boolean(guard.holding ?? guard.held ?? guard.active ?? guard.open ?? guard.tripped);
    body = [
      h(
        'p',
        { class: holding ? 'fail-text' : '' },
        holding ? `${SYMBOL.fail} changes are held` : `${SYMBOL.pass} not holding changes`,
      ),
      typeof guard.message === 'string' ? h('p', {}, guard.message) : null,
      h(
        'dl',
        { class: 'kv' },
        ...Object.entries(guard)
          .filter(([k, v]) => k !== 'message' && (typeof v !== 'object' || v === null))
          .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
      ),
    ].filter((x) => x !== null);
  }
  return h('article', { class: 'tile', id: 'tile-held' }, h('h2', {}, 'Held changes'), ...body);
}

// ---------------------------------------------------------------------------------------------- node

function renderNode(/** @type {any} */ n) {
  const checks = [...n.checks].sort((a, b) => (SEVERITY[a.status] ?? 9) - (SEVERITY[b.status] ?? 9));
  const view = h(
    'div',
    { 'data-view': 'node', 'data-node': n.node },
    h('p', {}, h('a', { href: '#/' }, '‹ All nodes')),
    h('h2', { id: 'node-title' }, n.node, ' ', badge(n.verdict)),
    h(
      'p',
      {},
      `role ${n.role} (from ${n.roleSource}) · last report `,
      timeEl(n.lastReportAt),
      n.stale ? ` · stale, last evaluated ${n.evaluatedVerdict}` : '',
      ` · spec ${n.spec?.name ?? '?'} ${n.spec?.revision ?? ''}`,
    ),
    section(
      'Checks',
      'node-checks',
      table(
        ['Status', 'Check', 'Observed', 'Expected', 'Message', 'Remediation'],
        checks.map((c) => [
          badge(c.status),
          checkLink(c.id),
          c.observed ?? '—',
          c.expected ?? '—',
          c.message,
          c.remediation ?? '—',
        ]),
        (i) => ({ 'data-check': checks[i].id }),
      ),
    ),
    section(
      'Probe errors',
      'node-probe-errors',
      n.probeErrors.length === 0
        ? h('p', { class: 'note' }, 'None.')
        : table(
            ['Probe', 'Kind', 'Message'],
            n.probeErrors.map((e) => [e.probe, e.kind, e.message]),
          ),
    ),
    section('On the cluster', 'node-written', writtenBlock(n)),
    section(
      'History (this aggregator process)',
      'node-history',
      (n.history ?? []).length === 0
        ? h('p', { class: 'note' }, 'No transition seen yet.')
        : h(
            'ol',
            { class: 'plain' },
            ...[...n.history]
              .reverse()
              .map((t) =>
                h('li', {}, timeEl(t.at), ' ', t.from ? badge(t.from) : 'first seen', ' → ', badge(t.to)),
              ),
          ),
    ),
    section(
      'Facts',
      'node-facts',
      h(
        'details',
        {},
        h('summary', {}, 'facts as evaluated (JSON)'),
        h('pre', {}, JSON.stringify(n.facts, null, 2)),
      ),
    ),
  );
  return view;
}

function writtenBlock(/** @type {any} */ n) {
  const changes = n.plannedChanges;
  return h(
    'div',
    {},
    h(
      'p',
      {},
      'Taint: ',
      h('code', {}, taintText(n.written)),
      ' · condition: ',
      h('code', {}, conditionText(n.written)),
      n.written?.condition?.message ? ` — ${n.written.condition.message}` : '',
    ),
    changes === undefined
      ? h('p', { class: 'note' }, 'Standalone: this aggregator writes nothing to Kubernetes.')
      : changes.length === 0
        ? h('p', { class: 'note' }, 'No change planned or written recently.')
        : table(
            ['When', 'Kind', 'Change', 'State', 'Body'],
            [...changes]
              .reverse()
              .map((c) => [
                timeEl(c.at),
                c.kind,
                c.summary,
                c.applied ? 'written' : 'planned',
                h('details', {}, h('summary', {}, 'body'), h('pre', {}, JSON.stringify(c.body, null, 2))),
              ]),
          ),
  );
}

function section(/** @type {string} */ title, /** @type {string} */ id, /** @type {Node} */ body) {
  return h('section', { id, class: 'block' }, h('h3', {}, title), body);
}

/**
 * @param {string[]} headers
 * @param {Array<Array<Node | string>>} rows
 * @param {(i: number) => Record<string, string>} [rowAttrs]
 */
function table(headers, rows, rowAttrs = () => ({})) {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ...rows.map((r, i) => h('tr', rowAttrs(i), ...r.map((c) => h('td', {}, c))))),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- check

function renderCheck(/** @type {string} */ id, /** @type {any} */ list, /** @type {any} */ spec) {
  /** @type {Map<string, { expected: Set<string>, nodes: string[] }>} */
  const groups = new Map();
  for (const n of list.nodes) {
    const key = n.check?.observed ?? '(no value observed)';
    const g = groups.get(key) ?? { expected: new Set(), nodes: [] };
    if (n.check?.expected) g.expected.add(n.check.expected);
    g.nodes.push(n.name);
    groups.set(key, g);
  }
  const sorted = [...groups].sort((a, b) => b[1].nodes.length - a[1].nodes.length);
  const def = Array.isArray(spec?.checks)
    ? spec.checks.find((/** @type {any} */ c) => c?.id === id)
    : undefined;
  return h(
    'div',
    { 'data-view': 'check', 'data-check': id },
    h(
      'p',
      {},
      h('a', { href: '#/' }, '‹ All nodes'),
      ' · ',
      h('a', { href: hashFor('/', { check: id }) }, 'these nodes in the table'),
    ),
    h('h2', {}, 'Check ', h('code', {}, id)),
    h(
      'p',
      { id: 'check-count', class: list.total > 0 ? 'fail-text' : '' },
      list.total === 0
        ? `${SYMBOL.pass} No node fails this check.`
        : `${SYMBOL.fail} ${list.total} node${list.total === 1 ? '' : 's'} fail this check`,
    ),
    h(
      'div',
      { id: 'check-groups' },
      ...sorted.map(([observed, g]) =>
        h(
          'section',
          { class: 'block group' },
          h(
            'h3',
            {},
            `${g.nodes.length} node${g.nodes.length === 1 ? '' : 's'} on `,
            h('code', {}, observed),
            g.expected.size ? h('span', { class: 'note' }, ` (expected ${[...g.expected].join(' / ')})`) : '',
          ),
          h(
            'p',
            { class: 'ids' },
            ...g.nodes.slice(0, 200).flatMap((name) => [nodeLink(name), ' ']),
            g.nodes.length > 200 ? `and ${g.nodes.length - 200} more` : '',
          ),
        ),
      ),
    ),
    def
      ? h(
          'details',
          {},
          h('summary', {}, 'the check in the spec'),
          h('pre', {}, JSON.stringify(def, null, 2)),
        )
      : null,
  );
}

// ---------------------------------------------------------------------------------------------- loop

/** Fetch what the current view shows and render it when something changed (or `force`). */
async function refresh(force = false) {
  const r = route();
  const main = /** @type {HTMLElement} */ (document.getElementById('view'));
  try {
    if (r.view === 'fleet') {
      const [s, n] = await Promise.all([getJson('/summary'), getJson('/nodes')]);
      if (force || s.changed || n.changed || !main.querySelector('[data-view="fleet"]'))
        renderFleet(s.data, n.data, r.params);
      else refreshTimes(main);
    } else if (r.view === 'node') {
      const d = await getJson(`/nodes/${encodeURIComponent(r.arg)}`);
      if (force || d.changed || !main.querySelector('[data-view="node"]'))
        main.replaceChildren(renderNode(d.data));
      else refreshTimes(main);
    } else {
      const [l, spec] = await Promise.all([
        getJson(`/nodes?check=${encodeURIComponent(r.arg)}`),
        getJson('/spec').catch(() => ({ data: null, changed: false })),
      ]);
      if (force || l.changed || spec.changed || !main.querySelector('[data-view="check"]'))
        main.replaceChildren(renderCheck(r.arg, l.data, spec.data));
    }
    showToken(false);
    setStatus(`Updated ${new Date().toLocaleTimeString()}`, false);
  } catch (err) {
    if (err instanceof AuthNeeded) {
      showToken(true);
      setStatus('The API needs a bearer token to read.', true);
    } else if (err instanceof HttpError && err.status === 404 && r.view === 'node') {
      main.replaceChildren(
        h(
          'div',
          { 'data-view': 'missing' },
          h('p', {}, h('a', { href: '#/' }, '‹ All nodes')),
          h('p', { class: 'fail-text' }, err.message),
        ),
      );
      setStatus('Updated', false);
    } else {
      setStatus(`Could not refresh: ${err instanceof Error ? err.message : String(err)}`, true);
    }
  }
}

/** Relative times move on even when the data did not change. */
function refreshTimes(/** @type {HTMLElement} */ root) {
  for (const t of root.querySelectorAll('time[datetime]'))
    t.textContent = relative(t.getAttribute('datetime'));
}

function setStatus(/** @type {string} */ text, /** @type {boolean} */ problem) {
  const el = /** @type {HTMLElement} */ (document.getElementById('status'));
  el.textContent = text;
  el.className = problem ? 'fail-text' : 'note';
}

function showToken(/** @type {boolean} */ needed) {
  /** @type {HTMLElement} */ (document.getElementById('token-form')).hidden = !needed;
  /** @type {HTMLElement} */ (document.getElementById('forget-token')).hidden =
    !sessionStorage.getItem(TOKEN_KEY);
}

function start() {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('token-form'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ (document.getElementById('token-input'));
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    cache.clear();
    void refresh(true);
  });
  document.getElementById('forget-token')?.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    cache.clear();
    void refresh(true);
  });
  window.addEventListener('hashchange', () => {
    window.scrollTo(0, 0);
    void refresh(true);
  });
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      await refresh(false);
    } finally {
      busy = false;
    }
  };
  setInterval(tick, POLL_MS);
  document.addEventListener('visibilitychange', () => void tick());
  void refresh(true);
}

start();
