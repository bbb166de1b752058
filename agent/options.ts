// Option parsing shared by the agent and check commands: durations, --host-root, --exec-mode,
// --registries, --log-level, ports. Every error is a UsageError whose message names the flag and the
// accepted form, so the command can print it and exit 2.
import { statSync } from 'node:fs';
import path from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { errorMessage } from '../report/error-message.js';
import { parseRegistryHost } from '../report/grammars.js';
import { LIMITS } from '../report/limits.js';
import type { ExecMode } from './host.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `250ms`, `30s`, `5m`, `1h`, `1.5s` or `1h30m` into milliseconds. A bare
 * number is refused: the unit is never guessed.
 */
export function parseDuration(text: string, flag = 'duration'): number {
  const trimmed = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < trimmed.length) {
    part.lastIndex = pos;
    const m = part.exec(trimmed);
    if (m === null) break;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = part.lastIndex;
  }
  if (trimmed.length === 0 || pos !== trimmed.length || !Number.isFinite(total)) {
    throw new UsageError(
      `${flag}: invalid duration ${JSON.stringify(text)}; use a number with a unit, e.g. 250ms, 30s, 5m, 1h`,
    );
  }
  return Math.round(total);
}

/** parseDuration with bounds (inclusive), e.g. an interval of at least 1s. */
export function parseDurationInRange(text: string, flag: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(text, flag);
  if (ms < minMs || ms > maxMs) {
    throw new UsageError(
      `${flag}: ${text} is out of range (${formatDuration(minMs)} to ${formatDuration(maxMs)})`,
    );
  }
  return ms;
}

/** 90000 → "1m30s"; for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

/** Per-registry probe timeout of `check` and `agent` (--registry-timeout). */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 5000;

/** --registry-timeout (or check's --timeout): 100ms to 2m; undefined → the default. */
export function parseRegistryTimeout(text: string | undefined, flag = '--registry-timeout'): number {
  return text === undefined ? DEFAULT_REGISTRY_TIMEOUT_MS : parseDurationInRange(text, flag, 100, 120_000);
}

export function parseExecMode(text: string, flag = '--exec-mode'): ExecMode {
  if (text === 'local' || text === 'chroot') return text;
  throw new UsageError(`${flag}: expected local or chroot, got ${JSON.stringify(text)}`);
}

/** Resolves --host-root to an absolute path and checks it is a directory. */
export function parseHostRoot(text: string, flag = '--host-root'): string {
  if (text.length === 0) throw new UsageError(`${flag}: empty path`);
  const dir = path.resolve(text);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`${flag}: ${dir} does not exist`);
  }
  if (!isDir) throw new UsageError(`${flag}: ${dir} is not a directory`);
  return dir;
}

/**
 * `--registries`: comma-separated `host[:port]` list; `none` → null (the probe is skipped).
 * Duplicates are dropped, order kept.
 */
export function parseRegistries(text: string, flag = '--registries'): string[] | null {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === 'none') return null;
  const hosts = trimmed
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  if (hosts.length === 0) throw new UsageError(`${flag}: empty list; give host[:port],... or none`);
  const max = LIMITS.facts.registryItems;
  if (hosts.length > max) throw new UsageError(`${flag}: at most ${max} registries`);
  for (const host of hosts) {
    if (parseRegistryHost(host) === null) {
      throw new UsageError(
        `${flag}: ${JSON.stringify(host)} is not host[:port] (e.g. nvcr.io, mirror.local:5000)`,
      );
    }
  }
  return [...new Set(hosts)];
}

export function parseLogLevel(text: string, flag = '--log-level'): LogLevel {
  if (isLogLevel(text)) return text;
  throw new UsageError(`${flag}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`);
}

/** A TCP port; 0 (any free port) only when allowZero. */
export function parsePort(text: string, flag: string, allowZero = false): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(`${flag}: expected a port number 1-65535, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * Strict flag parsing (node:util parseArgs): unknown flags, missing values and positionals are a
 * UsageError. Values of a flag given twice: the last one wins (type: 'string' without multiple).
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
}
