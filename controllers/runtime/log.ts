/** Structured log fields; values must never hold secrets. */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  with(fields: LogFields): Logger;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;
type Level = keyof typeof LEVELS;

/**
 * Logs one line per message to stderr: logfmt-like text for people, JSON lines when
 * VMSCTL_LOG_FORMAT=json (for log shippers). VMSCTL_LOG_LEVEL picks the threshold.
 */
export function createLogger(
  base: LogFields = {},
  options: { level?: Level; json?: boolean; write?: (line: string) => void } = {},
): Logger {
  const level = options.level ?? ((process.env['VMSCTL_LOG_LEVEL'] as Level | undefined) || 'info');
  const json = options.json ?? process.env['VMSCTL_LOG_FORMAT'] === 'json';
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const threshold = LEVELS[level] ?? LEVELS.info;
  const emit = (lvl: Level, message: string, fields: LogFields = {}) => {
    if (LEVELS[lvl] < threshold) return;
    const all = { ...base, ...fields };
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: message, ...all }));
      return;
    }
    const extra = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(
        ([k, v]) =>
          `${k}=${typeof v === 'string' && /\s|"/.test(v) ? JSON.stringify(v) : String(v)}`,
      )
      .join(' ');
    write(
      `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}`,
    );
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (fields) => createLogger({ ...base, ...fields }, { level, json, write }),
  };
}
