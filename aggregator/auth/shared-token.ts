// Standalone authentication: every agent presents the same bearer token, read from --token-file through
// token-file.ts's TokenFile (re-read when it changes, a rotated Secret, checked at most once per
// `recheckMs`). Fails closed: while the file is empty, missing or unreadable every report is refused with
// 503 and Retry-After (agents retry with backoff rather than give up, and are accepted again as soon as the
// file is fixed); the change is reported once, and once again when the file is usable.
import type { AuthOutcome } from '../contracts.js';
import { authenticateStaged, type Identification, type StagedAuthenticator } from './staged.js';
import { TokenFile } from './token-file.js';

export interface SharedTokenOptions {
  file: string;
  /** How often the file's mtime/size/inode is checked; 0 = on every request. Default 1 s. */
  recheckMs?: number;
  now?: () => number;
  /** Called once when the file becomes unusable (with why) and once when it is usable again (null). */
  onChange?: (problem: string | null) => void;
  /** Retry-After of a report refused while the file is unusable; default 30 s. */
  retryAfterSeconds?: number;
}

/** Retry-After of a report refused while the token file is unusable: agents come back within it once fixed. */
export const TOKEN_FILE_RETRY_AFTER_SECONDS = 30;

export class SharedTokenAuthenticator implements StagedAuthenticator {
  private readonly token: TokenFile;
  private readonly retryAfterSeconds: number;

  /** Throws when the file cannot be used at start (the command then exits 2). */
  constructor(options: SharedTokenOptions) {
    this.token = new TokenFile(options);
    this.retryAfterSeconds = options.retryAfterSeconds ?? TOKEN_FILE_RETRY_AFTER_SECONDS;
  }

  describe(): string {
    return `shared bearer token from ${this.token.file}`;
  }

  identify(token: string | undefined): Identification {
    if (token === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
    switch (this.token.matches(token)) {
      case 'match':
        return SHARED;
      case 'mismatch':
        return { ok: false, status: 401, reason: 'invalid bearer token' };
      case 'unavailable':
        // The flag, not the path: the client learns what to fix, the aggregator's log says where.
        return {
          ok: false,
          status: 503,
          reason:
            "the aggregator's --token-file is empty, missing or unreadable: every report is refused until " +
            'it holds the token again (see the aggregator log)',
          retryAfterSeconds: this.retryAfterSeconds,
        };
    }
  }

  authenticate(token: string | undefined, node: string): Promise<AuthOutcome> {
    return authenticateStaged(this, token, node);
  }
}

/** Every agent is the same caller, allowed for any node: one answer, shared by every report. */
const ACCEPTED: AuthOutcome = Object.freeze({ ok: true, identity: 'shared-token' });
const SHARED: Identification = Object.freeze({
  ok: true,
  principal: Object.freeze({ identity: 'shared-token', authorize: (): AuthOutcome => ACCEPTED }),
});
