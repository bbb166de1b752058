// The Kubernetes API emulator: a node:http server on 127.0.0.1 serving the real REST paths, plus the
// control surface tests use (state access, fault injection, watch sabotage, request log).
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { AccessReviews } from './access-reviews.js';
import { type FaultHandle, type FaultSpec, FaultTable } from './faults.js';
import { clone, isObject, type JsonObject, metaOf } from './json.js';
import { type LoggedRequest, RequestLog } from './request-log.js';
import { findResource, groupResource, RESOURCES, type ResourceDef } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { SigningAlgorithm } from './signing-keys.js';
import { ApiError, badRequest, conflict, reasonFor, status as statusBody } from './status.js';
import { Clock, Store, type Watcher } from './store.js';
import { TokenRegistry } from './tokens.js';
import { createObject, deleteObject, listJson, PATCH_TYPES, patchObject, updateObject } from './verbs.js';

export interface K8sEmulatorOptions {
  /** Watch events kept per resource type; a watch from an older resourceVersion gets 410 (default 10,000). */
  historyLimit?: number;
  /** The bearer token written into kubeConfig() (default `emulator-admin-token`). */
  token?: string;
  /** Answer 401 to requests without that token (default false: anything goes). */
  requireToken?: boolean;
  /** `GET /version` answer fields (default v1.31.4). */
  version?: { major: string; minor: string; gitVersion: string };
  /** The apiserver's own audiences, used when a TokenReview has none (and the default for issued tokens). */
  apiAudiences?: string[];
  /** Clock for token issue and expiry (default Date.now). */
  now?: () => number;
  /** The service-account issuer: tokens' `iss` and the discovery document's (default the in-cluster URL). */
  issuer?: string;
  /** How the issuer signs tokens (default RS256, RSA 2048; ES256 = ECDSA P-256). */
  signingAlgorithm?: SigningAlgorithm;
  /** Serve `/.well-known/openid-configuration` and `/openid/v1/jwks` (default true). */
  issuerDiscovery?: boolean;
  /** Send a BOOKMARK this often on watches that asked for them (default 0: never; see sendBookmarks()). */
  bookmarkIntervalMs?: number;
  /**
   * How a watch from a too-old resourceVersion is refused: `event` (default, as the apiserver's watch
   * cache: HTTP 200 and one ERROR event with a 410 Status) or `http` (HTTP 410 with the Status).
   */
  expiredWatchAs?: 'event' | 'http';
  /** Request log entries kept (default 50,000; counters keep counting past it). */
  maxLogEntries?: number;
}

/** Test-side access to the objects of one resource type; writes emit watch events. */
export interface ObjectAccess {
  get(name: string, namespace?: string): JsonObject | undefined;
  list(namespace?: string): JsonObject[];
  /** Creates or replaces (keeps uid/creationTimestamp of an existing object); returns the stored copy. */
  put(obj: JsonObject): JsonObject;
  putMany(objs: JsonObject[]): void;
  /** Changes a copy of the stored object in place and stores it (as a kubelet or another controller would). */
  mutate(name: string, fn: (obj: JsonObject) => void, namespace?: string): JsonObject;
  delete(name: string, namespace?: string): boolean;
  readonly size: number;
}

interface OpenWatch {
  store: Store;
  watcher: Watcher;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

const MAX_BODY = 16 * 1024 * 1024;

export class K8sEmulator {
  readonly url: string;
  readonly token: string;
  readonly tokens: TokenRegistry;
  /** SubjectAccessReview: an allow-list of subjects and resource attributes. */
  readonly accessReviews = new AccessReviews();
  readonly nodes: ObjectAccess;
  readonly pods: ObjectAccess;
  readonly secrets: ObjectAccess;
  readonly configMaps: ObjectAccess;
  readonly storageClasses: ObjectAccess;
  readonly csiDrivers: ObjectAccess;
  readonly leases: ObjectAccess;
  readonly namespaces: ObjectAccess;
  private readonly server: Server;
  private readonly opts: K8sEmulatorOptions;
  private readonly clock = new Clock();
  private readonly stores = new Map<ResourceDef, Store>();
  private readonly faults = new FaultTable();
  private readonly log: RequestLog;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private unreachable = false;

  /** Use startK8sEmulator(). */
  constructor(server: Server, url: string, opts: K8sEmulatorOptions) {
    this.server = server;
    this.url = url;
    this.opts = opts;
    this.token = opts.token ?? 'emulator-admin-token';
    this.log = new RequestLog(opts.maxLogEntries ?? 50_000);
    this.tokens = new TokenRegistry(
      opts.apiAudiences ?? ['https://kubernetes.default.svc.cluster.local'],
      opts.now ?? Date.now,
      {
        ...(opts.issuer ? { issuer: opts.issuer } : {}),
        ...(opts.signingAlgorithm ? { algorithm: opts.signingAlgorithm } : {}),
      },
    );
    for (const def of RESOURCES) {
      if (!def.virtual) this.stores.set(def, new Store(def, this.clock, opts.historyLimit ?? 10_000));
    }
    this.nodes = this.access('', 'nodes');
    this.pods = this.access('', 'pods');
    this.secrets = this.access('', 'secrets');
    this.configMaps = this.access('', 'configmaps');
    this.namespaces = this.access('', 'namespaces');
    this.storageClasses = this.access('storage.k8s.io', 'storageclasses');
    this.csiDrivers = this.access('storage.k8s.io', 'csidrivers');
    this.leases = this.access('coordination.k8s.io', 'leases');
    for (const ns of ['default', 'kube-system']) {
      this.namespaces.put({
        metadata: { name: ns },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      });
    }
    server.on('connection', (socket: Socket) => {
      if (this.unreachable) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendStatus(res, statusBody(500, String(err), 'InternalError'));
        else res.destroy();
      });
    });
  }

  /** The raw store of a resource type (e.g. `store('', 'nodes')`), for tests that need more. */
  store(group: string, plural: string): Store {
    const def = RESOURCES.find((r) => r.group === group && r.plural === plural);
    const store = def ? this.stores.get(def) : undefined;
    if (!store) throw new Error(`no resource ${plural}.${group}`);
    return store;
  }

  /** The current cluster-wide resourceVersion. */
  get resourceVersion(): string {
    return String(this.clock.rv);
  }

  private access(group: string, plural: string): ObjectAccess {
    const store = this.store(group, plural);
    const ns = (obj: JsonObject): string | undefined => {
      if (!store.def.namespaced) return undefined;
      const n = metaOf(obj)['namespace'];
      if (typeof n !== 'string' || n === '') throw new Error(`${plural}: metadata.namespace is required`);
      return n;
    };
    const put = (obj: JsonObject): JsonObject => {
      const copy = clone(obj);
      const meta = metaOf(copy);
      const name = meta['name'];
      if (typeof name !== 'string' || name === '') throw new Error(`${plural}: metadata.name is required`);
      const current = store.get(ns(copy), name);
      if (current) {
        meta['uid'] = metaOf(current)['uid'];
        meta['creationTimestamp'] = metaOf(current)['creationTimestamp'];
      }
      return store.write(copy);
    };
    return {
      get: (name, namespace) => store.get(namespace, name),
      list: (namespace) => store.list(namespace),
      put,
      putMany: (objs) => {
        for (const o of objs) put(o);
      },
      mutate: (name, fn, namespace) => {
        const current = store.get(namespace, name);
        if (!current) throw new Error(`${plural} ${name} not found`);
        const copy = clone(current);
        fn(copy);
        return store.write(copy);
      },
      delete: (name, namespace) => store.delete(namespace, name) !== undefined,
      get size() {
        return store.size;
      },
    };
  }

  /** core/v1 and events.k8s.io/v1 Events, oldest first. */
  events(namespace?: string): JsonObject[] {
    const core = this.store('', 'events').list(namespace);
    const v1 = this.store('events.k8s.io', 'events').list(namespace);
    return [...core, ...v1].sort(
      (a, b) => Number(metaOf(a)['resourceVersion']) - Number(metaOf(b)['resourceVersion']),
    );
  }

  // ---- faults ----

  inject(spec: FaultSpec): FaultHandle {
    return this.faults.add(spec);
  }

  /** The next `n` matching writes (default: PATCH/PUT of a node or its status) answer 409 Conflict. */
  conflictOnFirstTry(
    n = 1,
    path: string | RegExp = /^\/api\/v1\/nodes\/[^/]+(\/status)?$/,
    method = 'PATCH',
  ): FaultHandle {
    return this.faults.add({
      method,
      path,
      times: n,
      status: 409,
      body: null,
      reason: 'Conflict',
    });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Ends every open watch stream (cleanly, or by destroying the connection when `abrupt`). */
  dropWatches(opts: { abrupt?: boolean } = {}): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) this.closeWatch(w, opts.abrupt ?? false);
    return n;
  }

  /** Keeps every open watch connected but silently sends nothing more on it (a half-dead stream). */
  stallWatches(): number {
    for (const w of this.watches) w.watcher.stalled = true;
    return this.watches.size;
  }

  /** Sends a BOOKMARK with the current resourceVersion on every watch that allowed bookmarks. */
  sendBookmarks(): void {
    for (const w of this.watches) {
      if (w.watcher.bookmarks && !w.watcher.stalled) w.res.write(w.store.bookmarkLine());
    }
  }

  openWatches(): number {
    return this.watches.size;
  }

  /** Forgets watch history of a type (default nodes): every existing resourceVersion is now too old (410). */
  compactHistory(group = '', plural = 'nodes'): void {
    this.store(group, plural).compact();
  }

  /** While true, every connection (open or new) is destroyed: the API server is gone. */
  setUnreachable(on: boolean): void {
    this.unreachable = on;
    if (on) {
      for (const w of [...this.watches]) this.closeWatch(w, true);
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    }
  }

  // ---- observation ----

  get requests(): readonly LoggedRequest[] {
    return this.log.entries;
  }

  /** Requests that changed or tried to change state (POST/PUT/PATCH/DELETE, TokenReviews and SubjectAccessReviews excluded). */
  writes(): number {
    return this.log.writes();
  }

  requestsBy(method?: string, path?: string | RegExp): LoggedRequest[] {
    return this.log.by(method, path);
  }

  /** Clears the request log and counters (state and faults stay). */
  reset(): void {
    this.log.reset();
  }

  // ---- client configuration ----

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'emulator', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'emulator', token: this.token }],
      contexts: [{ name: 'emulator', cluster: 'emulator', user: 'emulator' }],
      currentContext: 'emulator',
    });
    return kc;
  }

  /** Writes a kubeconfig file for `--kubeconfig` and returns its path. */
  async writeKubeconfigFile(dir: string, fileName = 'kubeconfig'): Promise<string> {
    const path = join(dir, fileName);
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'emulator', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'emulator', user: { token: this.token } }],
      contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator' } }],
      'current-context': 'emulator',
    };
    await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    return path;
  }

  async close(): Promise<void> {
    for (const w of [...this.watches]) this.closeWatch(w, true);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ----

  private closeWatch(w: OpenWatch, abrupt: boolean): void {
    this.watches.delete(w);
    w.store.watchers.delete(w.watcher);
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.res.destroy();
    else w.res.end();
  }

  private sendJson(
    res: ServerResponse,
    code: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      ...headers,
    });
    res.end(body);
  }

  private sendStatus(
    res: ServerResponse,
    st: object & { code: number },
    headers: Record<string, string> = {},
  ): void {
    this.sendJson(res, st.code, JSON.stringify(st), headers);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > MAX_BODY)
        throw new ApiError(statusBody(413, 'Request entity too large', 'RequestEntityTooLarge'));
      chunks.push(b);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.unreachable) {
      req.socket.destroy();
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const query = Object.fromEntries(url.searchParams);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const entry: LoggedRequest = {
      method,
      path,
      query,
      contentType,
      body: undefined,
      status: 0,
      token,
      write:
        method !== 'GET' &&
        method !== 'HEAD' &&
        !path.endsWith('/tokenreviews') &&
        !path.endsWith('/subjectaccessreviews'),
      at: Date.now(),
    };
    res.on('finish', () => {
      if (entry.status === 0) entry.status = res.statusCode;
    });
    let raw = '';
    try {
      raw = await this.readBody(req);
    } catch (err) {
      entry.status = err instanceof ApiError ? err.status.code : 400;
      this.log.add(entry);
      if (err instanceof ApiError) this.sendStatus(res, err.status);
      else res.destroy();
      return;
    }
    let body: unknown;
    let bodyIsJson = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
        bodyIsJson = true;
      } catch {
        body = raw;
      }
    }
    entry.body = body;
    this.log.add(entry);
    try {
      if (this.opts.requireToken && token !== this.token) {
        throw new ApiError(statusBody(401, 'Unauthorized', 'Unauthorized'));
      }
      const fault = this.faults.take(method, path, query['watch'] === 'true' || query['watch'] === '1');
      if (fault) {
        if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault.status !== undefined) {
          entry.status = fault.status;
          this.answerFault(res, fault, path);
          return;
        }
      }
      if (raw !== '' && !bodyIsJson && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
        if (contentType !== 'application/apply-patch+yaml')
          throw badRequest('the request body is not valid JSON');
      }
      await this.route(req, res, method, path, url.searchParams, contentType, body, entry);
    } catch (err) {
      if (err instanceof ApiError) {
        entry.status = err.status.code;
        this.sendStatus(res, err.status, err.headers);
      } else throw err;
    }
  }

  private answerFault(res: ServerResponse, fault: FaultSpec, path: string): void {
    const code = fault.status ?? 500;
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    if (fault.body !== undefined && fault.body !== null) {
      this.sendJson(
        res,
        code,
        typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body),
        headers,
      );
      return;
    }
    if (code === 409 && (fault.reason ?? 'Conflict') === 'Conflict' && !fault.message) {
      const m = /^\/api\/v1\/nodes\/([^/]+)/.exec(path);
      const err = conflict(m ? 'nodes' : 'objects', m?.[1] ?? path.split('/').pop() ?? '');
      this.sendStatus(res, err.status, headers);
      return;
    }
    const details =
      fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : undefined;
    const message =
      fault.message ??
      (code === 429 ? 'Too many requests, please try again later.' : `injected fault: ${reasonFor(code)}`);
    this.sendStatus(res, statusBody(code, message, fault.reason ?? reasonFor(code), details), headers);
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    params: URLSearchParams,
    contentType: string | undefined,
    body: unknown,
    entry: LoggedRequest,
  ): Promise<void> {
    if (path === '/version' && method === 'GET') {
      const v = this.opts.version ?? { major: '1', minor: '31', gitVersion: 'v1.31.4' };
      this.sendJson(
        res,
        200,
        JSON.stringify({
          ...v,
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2025-01-01T00:00:00Z',
          goVersion: 'go1.22.10',
          compiler: 'gc',
          platform: 'linux/amd64',
        }),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (this.serveIssuerDiscovery(res, method, path)) return;
    const target = parsePath(path);
    if (!target) throw notFoundPath(path);
    const { def, namespace, name, subresource } = target;
    const dryRun = params.get('dryRun') === 'All';

    if (def.virtual) {
      if (method !== 'POST' || name) throw methodNotAllowed(method, path);
      if (!isObject(body)) throw badRequest(`the request body must be a ${def.kind}`);
      const st =
        def.plural === 'subjectaccessreviews'
          ? this.accessReviews.review(body['spec'])
          : this.tokens.review(body['spec']);
      this.sendJson(
        res,
        201,
        JSON.stringify({
          kind: def.kind,
          apiVersion: `${def.group}/${def.version}`,
          metadata: { creationTimestamp: null },
          spec: body['spec'] ?? {},
          status: st,
        }),
      );
      return;
    }
    const store = this.stores.get(def)!;
    if (subresource !== undefined && (subresource !== 'status' || !def.hasStatus)) throw notFoundPath(path);

    if (!name) {
      if (method === 'GET') {
        const labels = parseLabelSelector(params.get('labelSelector') ?? undefined);
        const fields = parseFieldSelector(params.get('fieldSelector') ?? undefined);
        const watch = params.get('watch');
        if (watch === 'true' || watch === '1') {
          this.startWatch(req, res, store, namespace, labels, fields, params);
          entry.status = 200;
          return;
        }
        const limit = params.has('limit') ? Number(params.get('limit')) : undefined;
        const text = listJson(
          store,
          { namespace, labels, fields, limit, continueToken: params.get('continue') ?? undefined },
          String(this.clock.rv),
        );
        this.sendJson(res, 200, text);
        return;
      }
      if (method === 'POST') {
        if (def.namespaced && !namespace) throw methodNotAllowed(method, path);
        const created = createObject(store, namespace, body, dryRun);
        this.sendJson(res, 201, JSON.stringify(created));
        return;
      }
      throw methodNotAllowed(method, path);
    }

    switch (method) {
      case 'GET': {
        const json = store.getJson(namespace, name);
        if (json === undefined) throw notFoundObject(def, name);
        this.sendJson(res, 200, json);
        return;
      }
      case 'PUT': {
        const r = updateObject(store, namespace, name, subresource, body, dryRun);
        this.sendJson(res, 200, JSON.stringify(r.obj));
        return;
      }
      case 'PATCH': {
        if (
          contentType === 'application/apply-patch+yaml' ||
          contentType === 'application/apply-patch+cbor'
        ) {
          throw new ApiError(
            statusBody(
              415,
              'server-side apply is not supported by the Kubernetes API emulator',
              'UnsupportedMediaType',
            ),
          );
        }
        if (!contentType || !(PATCH_TYPES as readonly string[]).includes(contentType)) {
          throw new ApiError(
            statusBody(
              415,
              `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`,
              'UnsupportedMediaType',
            ),
          );
        }
        const r = patchObject(store, namespace, name, subresource, contentType, body, dryRun);
        entry.write = true;
        this.sendJson(res, 200, JSON.stringify(r.obj));
        return;
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed(method, path);
        this.sendJson(res, 200, JSON.stringify(deleteObject(store, namespace, name, dryRun)));
        return;
      }
      default:
        throw methodNotAllowed(method, path);
    }
  }

  /** The service-account issuer discovery endpoints, as kube-apiserver serves them. */
  private serveIssuerDiscovery(res: ServerResponse, method: string, path: string): boolean {
    if (method !== 'GET' || this.opts.issuerDiscovery === false) return false;
    const cache = { 'Cache-Control': 'public, max-age=3600' };
    if (path === '/.well-known/openid-configuration') {
      const issuer = this.tokens.issuer;
      const doc = {
        issuer,
        jwks_uri: `${issuer}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [...new Set(this.tokens.jwks().keys.map((k) => k.alg))],
      };
      this.sendJson(res, 200, JSON.stringify(doc), cache);
      return true;
    }
    if (path === '/openid/v1/jwks') {
      this.sendJson(res, 200, JSON.stringify(this.tokens.jwks()), {
        ...cache,
        'Content-Type': 'application/jwk-set+json',
      });
      return true;
    }
    return false;
  }

  private startWatch(
    req: IncomingMessage,
    res: ServerResponse,
    store: Store,
    namespace: string | undefined,
    labels: ReturnType<typeof parseLabelSelector>,
    fields: ReturnType<typeof parseFieldSelector>,
    params: URLSearchParams,
  ): void {
    if (this.opts.expiredWatchAs === 'http') {
      const st = store.expiredStatus(params.get('resourceVersion') ?? undefined);
      if (st) throw new ApiError(st);
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    const watcher: Watcher = {
      namespace,
      labels,
      fields,
      stalled: false,
      bookmarks: params.get('allowWatchBookmarks') === 'true',
      sink: { write: (line) => res.write(line), end: () => res.end() },
    };
    const started = store.startWatch(watcher, params.get('resourceVersion') ?? undefined);
    if (!started.ok) {
      res.end(started.line);
      return;
    }
    const open: OpenWatch = { store, watcher, res, timers: [] };
    this.watches.add(open);
    const timeout = Number(params.get('timeoutSeconds') ?? 0);
    if (timeout > 0) open.timers.push(setTimeout(() => this.closeWatch(open, false), timeout * 1000));
    const every = this.opts.bookmarkIntervalMs ?? 0;
    if (every > 0 && watcher.bookmarks) {
      const t = setInterval(() => {
        if (!watcher.stalled) res.write(store.bookmarkLine());
      }, every);
      open.timers.push(t);
    }
    const cleanup = () => {
      if (this.watches.has(open)) {
        this.watches.delete(open);
        store.watchers.delete(watcher);
        for (const t of open.timers) clearTimeout(t);
      }
    };
    req.on('close', cleanup);
    res.on('close', cleanup);
  }
}

interface Target {
  def: ResourceDef;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** `/api/v1/...` and `/apis/GROUP/VERSION/...`, namespaced or cluster-scoped. */
function parsePath(path: string): Target | undefined {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const def = findResource(group, version, rest[2]!);
    if (def?.namespaced && rest.length <= 5) {
      return { def, namespace: rest[1], name: rest[3], subresource: rest[4] };
    }
  }
  const def = rest[0] ? findResource(group, version, rest[0]) : undefined;
  if (!def || rest.length > 3) return undefined;
  // A namespaced type without a namespace: only the cluster-wide list/watch exists.
  if (def.namespaced && rest.length > 1) return undefined;
  return { def, namespace: undefined, name: rest[1], subresource: rest[2] };
}

function notFoundPath(path: string): ApiError {
  return new ApiError(
    statusBody(404, `the server could not find the requested resource (${path})`, 'NotFound', {}),
  );
}

function notFoundObject(def: ResourceDef, name: string): ApiError {
  const gr = groupResource(def);
  return new ApiError(
    statusBody(404, `${gr} "${name}" not found`, 'NotFound', {
      name,
      ...(def.group ? { group: def.group } : {}),
      kind: def.plural,
    }),
  );
}

function methodNotAllowed(method: string, path: string): ApiError {
  return new ApiError(
    statusBody(
      405,
      `the server does not allow this method on the requested resource (${method} ${path})`,
      'MethodNotAllowed',
    ),
  );
}

export async function startK8sEmulator(options: K8sEmulatorOptions = {}): Promise<K8sEmulator> {
  const server = createServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return new K8sEmulator(server, `http://127.0.0.1:${port}`, options);
}
