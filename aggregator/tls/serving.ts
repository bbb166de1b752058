// The serving certificate from --tls-cert/--tls-key, and its reload: the files are polled and compared by
// content (a Secret volume swaps a symlink, which fs.watch misses, and mtimes can tie) and a new, valid
// pair is handed to setTlsCredentials. A half-written pair is not applied; the previous certificate stays in use.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { errorMessage } from '../../report/error-message.js';

export interface TlsPair {
  cert: string;
  key: string;
}

/** Reads and checks a certificate/key pair; throws with the file names when they are unusable. */
export function readTlsPairSync(certFile: string, keyFile: string): TlsPair {
  const pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  checkPair(pair, certFile, keyFile);
  return pair;
}

function checkPair(pair: TlsPair, certFile: string, keyFile: string): void {
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(
      `TLS certificate ${certFile} and key ${keyFile} are not a usable pair: ${errorMessage(err)}`,
    );
  }
}

export interface TlsWatcherOptions {
  certFile: string;
  keyFile: string;
  /** Called with a new valid pair. */
  onChange: (pair: TlsPair) => void;
  onError?: (err: unknown) => void;
  /** Poll interval; default 10 s. */
  intervalMs?: number;
}

export interface TlsWatcher {
  /** Check the files now; resolves true when a new pair was applied. */
  checkNow(): Promise<boolean>;
  stop(): void;
}

export function watchTlsFiles(options: TlsWatcherOptions): TlsWatcher {
  const { certFile, keyFile, onChange } = options;
  const onError = options.onError ?? (() => {});
  // The pair the server started with (read just before): only a later change is applied.
  let applied: string | undefined = initialSignature(certFile, keyFile);
  let lastFailed: string | undefined;
  let running: Promise<boolean> | undefined;

  const check = async (): Promise<boolean> => {
    try {
      const pair = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
      const sig = pairDigest(pair);
      if (sig === applied) return false;
      checkPair(pair, certFile, keyFile);
      onChange(pair);
      applied = sig;
      lastFailed = undefined;
      return true;
    } catch (err) {
      // Report each broken state once, not on every poll; retry until the files make a good pair.
      const msg = errorMessage(err);
      if (msg !== lastFailed) onError(err);
      lastFailed = msg;
      return false;
    }
  };

  const checkNow = () => {
    running ??= check().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void checkNow(), options.intervalMs ?? 10_000);
  timer.unref();
  return { checkNow, stop: () => clearInterval(timer) };
}

function pairDigest(pair: TlsPair): string {
  return createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
}

function initialSignature(certFile: string, keyFile: string): string | undefined {
  try {
    return pairDigest({ cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') });
  } catch {
    return undefined;
  }
}
