/**
 * The daemons' signals: SIGHUP reopens the log files (logrotate) and reloads the config,
 * SIGUSR1 dumps the client list, SIGTERM/SIGINT stop (once), SIGPIPE is ignored.
 * Reloads never overlap: a SIGHUP during one runs exactly one more after it (the file may have
 * changed again), however many arrived.
 */
import { constants } from 'node:os';

export interface DaemonSignals {
  /** SIGHUP, first: reopen log files. */
  reopenLogs?(): void;
  /** SIGHUP: re-read the config; errors are the handler's to log. */
  reload?(): Promise<void>;
  /** SIGUSR1. */
  dump?(): void;
  /** SIGTERM or SIGINT, the first one only; `number` is the signal's number (15 or 2). */
  stop(signal: 'SIGTERM' | 'SIGINT', number: number): void;
}

/** Installs the handlers; returns a function that removes them (tests). */
export function handleSignals(h: DaemonSignals): () => void {
  let reloading = false;
  let again = false;
  const runReload = (): void => {
    if (!h.reload) return;
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    void h.reload().catch(() => undefined).finally(() => {
      reloading = false;
      if (again) {
        again = false;
        runReload();
      }
    });
  };
  let stopping = false;
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGPIPE', () => undefined],
    ['SIGHUP', () => {
      h.reopenLogs?.();
      runReload();
    }],
    ['SIGUSR1', () => h.dump?.()],
    ...(['SIGTERM', 'SIGINT'] as const).map((sig): [NodeJS.Signals, () => void] => [sig, () => {
      if (stopping) return;
      stopping = true;
      h.stop(sig, constants.signals[sig]);
    }]),
  ];
  for (const [sig, fn] of handlers) process.on(sig, fn);
  return () => {
    for (const [sig, fn] of handlers) process.off(sig, fn);
  };
}
