/**
 * Going to the background (redsocks' `daemon = on`, danted -D): the program runs itself again,
 * detached in its own session with stdio on /dev/null and `marker=1` in its environment, and the
 * parent exits 0. Node cannot fork(), so the child is a new process of the same program.
 *
 * Under systemd (INVOCATION_ID or NOTIFY_SOCKET set) there is no daemonizing: a Type=simple unit
 * whose main process exits 0 looks finished, and systemd would stop the unit's processes. The
 * daemon stays in the foreground and says once that the setting is ignored; systemd already
 * gives it its own session, /dev/null stdin and the journal.
 */
import { spawn } from 'node:child_process';

/** True when systemd started this process as a service (systemd.exec(5)). */
export function underSystemd(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.INVOCATION_ID || env.NOTIFY_SOCKET);
}

export interface DaemonizeOptions {
  /** Environment variable that marks the detached child (e.g. REDSOCKS_TS_DAEMONIZED). */
  marker: string;
  /** The child's arguments after the script (paths already made absolute). */
  args: string[];
  /** Node flags for the child (default: this process' execArgv). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * - 'child': this process is the detached child: run as the daemon;
 * - 'systemd': daemonizing is ignored under systemd: run in the foreground (log it once);
 * - 'parent': the detached child was started: exit 0.
 */
export function daemonize(opts: DaemonizeOptions): 'child' | 'systemd' | 'parent' {
  const env = opts.env ?? process.env;
  if (env[opts.marker] === '1') return 'child';
  if (underSystemd(env)) return 'systemd';
  const child = spawn(process.execPath, [...(opts.execArgv ?? process.execArgv), process.argv[1], ...opts.args], {
    detached: true,
    stdio: 'ignore',
    env: { ...env, [opts.marker]: '1' },
  });
  child.unref();
  return 'parent';
}

/** The one line a daemon logs when it stays in the foreground under systemd. */
export function systemdForegroundNotice(setting: string): string {
  return `${setting} is ignored under systemd (INVOCATION_ID/NOTIFY_SOCKET set): running in the foreground, as the unit's main process`;
}
