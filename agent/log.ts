// A tiny JSON-lines logger for the agent. pino is not used here: every node pays the agent's memory, and
// one JSON line per event to stderr is all a DaemonSet needs (the container runtime collects it). Its lines
// have the aggregator's shape (report/log-line.ts): string `level`, RFC 3339 `time`, `msg`, then fields;
// `format: 'text'` prints them for people.
import { formatTextLine, type LogFormat } from '../report/log-line.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** json (default) or text (report/log-line.ts). */
  format?: LogFormat;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
  now?: () => Date;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    // level/time/msg come first and fields can never override them, so every line has the same shape.
    const record: LogFields = { level, time: now().toISOString(), msg };
    if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in record)) record[k] = errorToJson(v);
    if (options.format === 'text') {
      write(formatTextLine(record));
      return;
    }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ level, time: record.time, msg, fields: '[unserialisable]' });
    }
    write(`${line}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

function errorToJson(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

/** A logger that keeps its lines in memory (tests, `--once` summaries). */
export function memoryLogger(
  level: LogLevel = 'debug',
): Logger & { lines: Array<LogFields & { level: string; msg: string }> } {
  const lines: Array<LogFields & { level: string; msg: string }> = [];
  const logger = createLogger({
    level,
    write: (line) => lines.push(JSON.parse(line) as LogFields & { level: string; msg: string }),
  });
  return Object.assign(logger, { lines });
}
