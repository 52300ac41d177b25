import type { LogLevel } from '../config';

/** One JSON line per entry, so logs can be grepped and shipped as they are. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /**
   * Written as `info` at every level but `silent`: the line a person starting the server reads
   * to find it (`Seatwatch listening on …`), which LOG_LEVEL=warn must not hide.
   */
  announce(message: string, fields?: Record<string, unknown>): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A database URL fit to print: its password, if any, becomes ***. */
export function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(a malformed URL)';
  }
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line + '\n')): Logger {
  const threshold = rank[level];
  const log =
    (entryLevel: Exclude<LogLevel, 'silent'>, shownFrom = rank[entryLevel]) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (shownFrom < threshold) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: entryLevel, msg: message, ...fields }));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), announce: log('info', rank.error) };
}
