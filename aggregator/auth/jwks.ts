// The service-account issuer's keys, read from the API server — `/.well-known/openid-configuration` for the
// issuer, `/openid/v1/jwks` for the keys (not the document's jwks_uri, which may name an address outside
// the cluster) — cached and refreshed: every `refreshMs`, when a token names a key we do not have (at most
// once per `minRefreshMs`), and, while they cannot be fetched, retried at that same pace. There is no timer:
// requests start refreshes in the background, so an idle aggregator makes no calls and nothing needs stopping.
import { describeApiError } from '../k8s/api-errors.js';
import { parseJwks, type VerificationKey } from './service-account-token.js';

/** The two discovery reads, as a narrow interface so they can be faked (client-node answers both). */
export interface IssuerDiscovery {
  /** The OpenID configuration document (parsed JSON, or its text). */
  openIdConfiguration(): Promise<unknown>;
  /** The JWKS (parsed JSON, or its text). */
  keySet(): Promise<unknown>;
}

export type IssuerKeysState =
  | { kind: 'pending' }
  | {
      kind: 'ready';
      issuer: string;
      keys: readonly VerificationKey[];
      fetchedAt: number;
      /** The last refresh failed: the keys fetched before stay in use. */
      refreshError: string | undefined;
    }
  | { kind: 'unavailable'; reason: string; since: number };

export const DEFAULT_KEYS_REFRESH_MS = 10 * 60_000;
export const DEFAULT_KEYS_MIN_REFRESH_MS = 30_000;
const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

export interface IssuerKeysOptions {
  discovery: IssuerDiscovery;
  now?: () => number;
  /** Refresh keys this old (default 10 min). */
  refreshMs?: number;
  /** At most one fetch this often for an unknown key ID or a retry while unavailable (default 30 s). */
  minRefreshMs?: number;
  /** Bound on each discovery read (default 10 s). */
  timeoutMs?: number;
  /** Called on each change of state kind, and when a refresh starts or stops failing. */
  onChange?: (next: IssuerKeysState, previous: IssuerKeysState) => void;
}

export class IssuerKeys {
  private readonly discovery: IssuerDiscovery;
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly minRefreshMs: number;
  private readonly timeoutMs: number;
  private readonly onChange: (next: IssuerKeysState, previous: IssuerKeysState) => void;
  private current: IssuerKeysState = { kind: 'pending' };
  private inflight: Promise<void> | null = null;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  /** Fetches for unknown key IDs have their own pace: a fetch made just before does not delay one. */
  private lastUnknownKeyFetch = Number.NEGATIVE_INFINITY;
  /** Discovery reads made (for tests and figures). */
  fetches = 0;

  constructor(options: IssuerKeysOptions) {
    this.discovery = options.discovery;
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? DEFAULT_KEYS_REFRESH_MS;
    this.minRefreshMs = options.minRefreshMs ?? DEFAULT_KEYS_MIN_REFRESH_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    this.onChange = options.onChange ?? (() => {});
  }

  get state(): IssuerKeysState {
    return this.current;
  }

  /** Fetches the issuer and keys now, or joins the fetch in flight. Never rejects. */
  refresh(): Promise<void> {
    if (!this.inflight) {
      this.lastAttempt = this.now();
      this.inflight = this.fetchOnce()
        .then(
          ({ issuer, keys }) =>
            this.set({ kind: 'ready', issuer, keys, fetchedAt: this.now(), refreshError: undefined }),
          (err: unknown) => this.failed(describeApiError(err)),
        )
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  /**
   * The state to verify tokens with. The first call waits up to `waitMs` for the first fetch; later calls
   * start a refresh in the background when one is due and answer at once.
   */
  async ready(waitMs: number): Promise<IssuerKeysState> {
    if (this.current.kind === 'pending') {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      });
      await Promise.race([this.refresh(), waited]).finally(() => clearTimeout(timer));
    } else if (this.due()) {
      void this.refresh();
    }
    return this.current;
  }

  /**
   * A token names a key ID we do not have (a rotated key): fetch again, at most once per `minRefreshMs`
   * (a fetch in flight is joined), so forged key IDs cannot turn into a stream of API calls. True when the
   * keys were fetched (or joined) for this call.
   */
  async refreshForUnknownKey(): Promise<boolean> {
    if (this.inflight) {
      await this.inflight;
      return true;
    }
    if (this.now() - this.lastUnknownKeyFetch < this.minRefreshMs) return false;
    this.lastUnknownKeyFetch = this.now();
    await this.refresh();
    return true;
  }

  private due(): boolean {
    const sinceAttempt = this.now() - this.lastAttempt;
    if (this.inflight || sinceAttempt < this.minRefreshMs) return false;
    return this.current.kind !== 'ready' || this.now() - this.current.fetchedAt >= this.refreshMs;
  }

  private failed(reason: string): void {
    const prev = this.current;
    // Keys already fetched stay in use: a TokenReview still decides every new token, so a stale key can
    // only refuse a token signed by a newer one, never accept a token the API server would refuse.
    if (prev.kind === 'ready') this.set({ ...prev, refreshError: reason });
    else
      this.set({ kind: 'unavailable', reason, since: prev.kind === 'unavailable' ? prev.since : this.now() });
  }

  private set(next: IssuerKeysState): void {
    const prev = this.current;
    this.current = next;
    const changed =
      prev.kind !== next.kind ||
      (prev.kind === 'ready' &&
        next.kind === 'ready' &&
        (prev.refreshError === undefined) !== (next.refreshError === undefined));
    if (changed) this.onChange(next, prev);
  }

  private async fetchOnce(): Promise<{ issuer: string; keys: VerificationKey[] }> {
    this.fetches++;
    const config = asJson(await this.bounded(this.discovery.openIdConfiguration(), 'openid-configuration'));
    const issuer =
      config !== null && typeof config === 'object' ? (config as { issuer?: unknown }).issuer : undefined;
    if (typeof issuer !== 'string' || issuer === '') {
      throw new Error('the OpenID configuration names no issuer');
    }
    const keys = parseJwks(asJson(await this.bounded(this.discovery.keySet(), 'jwks')));
    if (keys.length === 0)
      throw new Error('the JWKS has no key usable for RS256/ES256/ES384/ES512 signatures');
    return { issuer, keys };
  }

  private bounded<T>(call: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }
}

/** client-node returns these documents parsed, typed as string; a text answer is parsed here. */
function asJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}
