// A bearer token kept in a file (--token-file, --read-token-file): re-read when the file changes (a
// rotated Secret), checked at most once per `recheckMs`. Fails closed: while the file is missing, empty or
// unreadable no token matches, and the change is reported once (and once again when the file is back).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { errorMessage } from '../../report/error-message.js';

export interface TokenFileOptions {
  file: string;
  /** How often the file's inode/size/mtime is checked; 0 = on every request. Default 1 s. */
  recheckMs?: number;
  now?: () => number;
  /** Called once when the file becomes unusable (with why) and once when it is usable again (null). */
  onChange?: (problem: string | null) => void;
}

export type TokenMatch = 'match' | 'mismatch' | 'unavailable';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class TokenFile {
  readonly file: string;
  private readonly recheckMs: number;
  private readonly now: () => number;
  private readonly onChange: (problem: string | null) => void;
  /** sha256 of the token in force; null while the file is unusable. */
  private expected: Buffer | null = null;
  private signature = '';
  private lastCheck: number;
  private problemText: string | null = null;

  /** Throws when the file cannot be used at start (the command then exits 2). */
  constructor(options: TokenFileOptions) {
    this.file = options.file;
    this.recheckMs = options.recheckMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.onChange = options.onChange ?? (() => {});
    const { token, signature } = readToken(this.file);
    this.expected = digest(token);
    this.signature = signature;
    this.lastCheck = this.now();
  }

  /** Why no token matches right now, or null when the file is in use. */
  problem(): string | null {
    this.reloadIfChanged();
    return this.problemText;
  }

  /** Compares digests: equal length, constant time, and the token's length is not leaked. */
  matches(token: string): TokenMatch {
    this.reloadIfChanged();
    if (this.expected === null) return 'unavailable';
    return timingSafeEqual(digest(token), this.expected) ? 'match' : 'mismatch';
  }

  private reloadIfChanged(): void {
    const now = this.now();
    if (now - this.lastCheck < this.recheckMs) return;
    this.lastCheck = now;
    try {
      const sig = fileSignature(this.file);
      if (sig === this.signature && this.expected !== null) return;
      const { token, signature } = readToken(this.file);
      this.expected = digest(token);
      this.signature = signature;
      this.setProblem(null);
    } catch (err) {
      this.expected = null;
      this.signature = '';
      this.setProblem(errorMessage(err));
    }
  }

  private setProblem(problem: string | null): void {
    if (problem === this.problemText) return;
    const wasUsable = this.problemText === null;
    this.problemText = problem;
    // Once per transition: usable → unusable, and back; not again for each new error text.
    if (wasUsable !== (problem === null)) this.onChange(problem);
  }
}

/** What changes when the file is replaced or rewritten: inode, size and mtime. */
export function fileSignature(file: string): string {
  const st = statSync(file);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** The token in `file` (trimmed, never empty) and the file's signature (inode, size, mtime) it was read at. */
export function readToken(file: string): { token: string; signature: string } {
  const signature = fileSignature(file);
  const token = readFileSync(file, 'utf8').trim();
  if (token.length === 0) throw new Error(`token file ${file} is empty`);
  return { token, signature };
}
