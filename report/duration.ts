// Durations on the command line (`250ms`, `30s`, `5m`, `1h`, `1h30m`) and back, for every command.
import { UsageError } from './usage-error.js';

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
