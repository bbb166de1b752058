// The serving certificate from --tls-cert/--tls-key, and its reload: the files are polled and compared by
// content (a Secret volume swaps a symlink, which fs.watch misses, and mtimes can tie) and a new, valid
// pair is handed to setTlsCredentials. A half-written pair is not applied; the previous certificate stays in use.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { errorMessage } from '../../report/error-message.js';

/**
 * The TLS versions and ciphers the aggregator serves. TLS 1.2 only with AEAD ciphers and forward secrecy
 * (ECDHE key exchange, AES-GCM or ChaCha20-Poly1305; no CBC, no static RSA key exchange, no SHA-1 MACs),
 * as Mozilla's "intermediate" profile; TLS 1.3 with Node's own suites, all of them AEAD with forward
 * secrecy. Given to the server at creation and again on every certificate swap (setSecureContext replaces
 * the whole context, ciphers included).
 */
export const SERVING_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    // TLS 1.3 (Node's defaults, named so the list below does not turn them off)
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_AES_128_GCM_SHA256',
    // TLS 1.2
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

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
    createSecureContext({ ...SERVING_TLS_OPTIONS, ...pair });
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
