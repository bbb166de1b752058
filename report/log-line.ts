// The one log format of the agent and the aggregator: JSON lines on stderr, each with a string `level`, an
// RFC 3339 `time` (UTC, milliseconds) and `msg`; `--log-format text` prints the same record for people as
// `TIME LEVEL msg key=value ...` (no pino-pretty: the agent must stay light, and this is all it takes).
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Keys every line has, in this order; in text they are the line's head, not key=value pairs. */
const HEAD = new Set(['level', 'time', 'msg']);

function textValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[unserialisable]';
  }
}

/** One log record as a text line (with its newline). */
export function formatTextLine(record: Record<string, unknown>): string {
  const level = String(record['level'] ?? 'info').toUpperCase();
  const head = `${String(record['time'] ?? '')} ${level.padEnd(5)} ${String(record['msg'] ?? '')}`;
  const fields = Object.entries(record)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${textValue(v)}`);
  // A message spanning lines stays one log line.
  return `${[head, ...fields].join(' ').replace(/\r?\n/g, '\\n')}\n`;
}

/**
 * A writable for JSON log lines (pino's output) that writes each as text to `out`; a line that is not
 * JSON goes through unchanged.
 */
export function textLogWriter(out: { write(s: string): unknown }): {
  write(chunk: string | Uint8Array): boolean;
} {
  let pending = '';
  return {
    write(chunk) {
      pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let nl = pending.indexOf('\n');
      while (nl !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          record = undefined;
        }
        out.write(
          record !== null && typeof record === 'object'
            ? formatTextLine(record as Record<string, unknown>)
            : `${line}\n`,
        );
        nl = pending.indexOf('\n');
      }
      return true;
    },
  };
}
