// Standalone authentication: every agent presents the same bearer token, read from --token-file. The file
// is re-read when it changes (a rotated Secret), checked at most once per `recheckMs`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthOutcome } from '../contracts.js';
import { authenticateStaged, type Identification, type StagedAuthenticator } from './staged.js';
import { fileSignature, readToken } from './token-file.js';

export interface SharedTokenOptions {
  file: string;
  /** How often the file's mtime/size/inode is checked; 0 = on every request. Default 1 s. */
  recheckMs?: number;
  now?: () => number;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class SharedTokenAuthenticator implements StagedAuthenticator {
  private readonly file: string;
  private readonly recheckMs: number;
  private readonly now: () => number;
  private expected: Buffer;
  private signature: string;
  private lastCheck: number;

  constructor(options: SharedTokenOptions) {
    this.file = options.file;
    this.recheckMs = options.recheckMs ?? 1_000;
    this.now = options.now ?? Date.now;
    const { token, signature } = readToken(this.file);
    this.expected = digest(token);
    this.signature = signature;
    this.lastCheck = this.now();
  }

  describe(): string {
    return `shared bearer token from ${this.file}`;
  }

  async identify(token: string | undefined): Promise<Identification> {
    if (token === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
    this.reloadIfChanged();
    // Compare digests: equal length, constant time, and the token's length is not leaked.
    if (!timingSafeEqual(digest(token), this.expected)) {
      return { ok: false, status: 401, reason: 'invalid bearer token' };
    }
    return { ok: true, principal: { identity: 'shared-token', authorize: allowAnyNode } };
  }

  authenticate(token: string | undefined, node: string): Promise<AuthOutcome> {
    return authenticateStaged(this, token, node);
  }

  private reloadIfChanged(): void {
    const now = this.now();
    if (now - this.lastCheck < this.recheckMs) return;
    this.lastCheck = now;
    try {
      const sig = fileSignature(this.file);
      if (sig === this.signature) return;
      const { token, signature } = readToken(this.file);
      this.expected = digest(token);
      this.signature = signature;
    } catch {
      // A file mid-rotation (missing or empty) keeps the previous token rather than locking agents out.
    }
  }
}

const allowAnyNode = (): AuthOutcome => ({ ok: true, identity: 'shared-token' });
