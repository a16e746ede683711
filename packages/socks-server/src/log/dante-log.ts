/** What sessions and the server log through; implemented over the common logger factory. */
export interface DanteLog {
  alert(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  notice(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  readonly debugEnabled: boolean;
  /** Reopens log files (SIGHUP, logrotate). */
  reopen(): void;
  close(): Promise<void>;
}

/** A logger that drops everything (no `logoutput`, as Dante's default). */
export const nullLog: DanteLog = {
  alert() {},
  error() {},
  warn() {},
  notice() {},
  info() {},
  debug() {},
  debugEnabled: false,
  reopen() {},
  close: () => Promise.resolve(),
};
