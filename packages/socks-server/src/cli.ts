#!/usr/bin/env -S node --max-semi-space-size=1
/**
 * socks-server: Dante's danted(8) command line.
 *   -f FILE  config (default /etc/danted.conf)   -V  verify config, exit 0/1
 *   -D       daemonize                           -p  pidfile
 *   -N n     n workers sharing the port (SO_REUSEPORT)
 *   -d n     debug level   -n  no TCP keepalive   -v  version   -h  help
 * Signals: SIGHUP reload (keeps the old config on error), SIGUSR1 client list,
 * SIGTERM/SIGINT drain for a bounded time, then exit 0. Pidfile, -D and the signals are
 * common's daemon lifecycle; under systemd -D is ignored (logged once).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import {
  ConfigError, daemonize, handleSignals, logClock, removePidfile, superviseWorkers, systemdForegroundNotice, writePidfile,
} from '@mptcp-proxy/common';
import { unmetAddonNeeds } from 'mptcp-native';
import { dantedAddonNeeds } from './config/addon-needs';
import { loadDantedConfig, type ConfigWarning, type DantedConfig, type LoadResult } from './config';
import { danteLinePrefix } from './log/dante-format';
import { createDanteLogger } from './log/dante-logger';
import type { DanteLog } from './log/dante-log';
import { checkStartable, startServer, type SocksServer } from './server';
import { dropPlan, dropPrivileges } from './privileges';
import { startAuthHelper, type AuthHelperClient } from './auth/helper-client';
import { vis } from './log/vis';

const VERSION = '0.1.0';
/**
 * A small young generation: per-connection handshake garbage otherwise keeps ~9 KB per
 * connection of new-space pages resident (measured: 20 KB -> 11 KB PSS per idle relay).
 * The bin's shebang passes it; children we spawn get it here.
 */
const HEAP_FLAGS = ['--max-semi-space-size=1'];

function childExecArgv(): string[] {
  const has = process.execArgv.some((a) => a.startsWith('--max-semi-space-size'));
  return has ? process.execArgv : [...HEAP_FLAGS, ...process.execArgv];
}
const USAGE = `usage: socks-server [-DLNVdfhnpv]
  -D          run in the background (daemon)
  -f FILE     configuration file (default /etc/danted.conf)
  -N n        number of worker processes sharing the listeners
  -V          verify the configuration and exit (0 = ok, 1 = error)
  -d n        debug level
  -h          this help
  -n          disable TCP keep-alive
  -p FILE     write the process id to FILE
  -v          print the version and exit
`;

interface Args {
  file: string;
  verify: boolean;
  daemon: boolean;
  pidfile?: string;
  workers: number;
  debug: number;
  noKeepalive: boolean;
}

/** Drain bound for SIGTERM/SIGINT, ms. */
const DRAIN_MS = Number(process.env.SOCKS_SERVER_DRAIN_MS ?? 5000);

function stderrLine(level: string, text: string): void {
  process.stderr.write(`${danteLinePrefix(level, logClock(), process.pid)}${text}\n`);
}

function parseArgs(argv: string[]): Args | number {
  const a: Args = { file: '/etc/danted.conf', verify: false, daemon: false, workers: 1, debug: 0, noKeepalive: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg.length < 2) {
      process.stderr.write(USAGE);
      return 1;
    }
    // Flags may be bundled (-Vf file) as with getopt.
    for (let j = 1; j < arg.length; j++) {
      const f = arg[j];
      const value = (): string | undefined => {
        const rest = arg.slice(j + 1);
        j = arg.length;
        if (rest !== '') return rest;
        return argv[++i];
      };
      switch (f) {
        case 'f': {
          const v = value();
          if (v === undefined) return usageError('-f needs a file');
          a.file = v;
          break;
        }
        case 'p': {
          const v = value();
          if (v === undefined) return usageError('-p needs a file');
          a.pidfile = v;
          break;
        }
        case 'N': {
          const v = Number(value());
          if (!Number.isInteger(v) || v < 1) return usageError('-N needs a positive number');
          a.workers = v;
          break;
        }
        case 'd': {
          const v = Number(value());
          if (!Number.isInteger(v) || v < 0) return usageError('-d needs a number');
          a.debug = v;
          break;
        }
        case 'V':
          a.verify = true;
          break;
        case 'D':
          a.daemon = true;
          break;
        case 'n':
          a.noKeepalive = true;
          break;
        case 'v':
          process.stdout.write(`socks-server v${VERSION} (a drop-in for Dante v1.4.2's danted)\n`);
          return 0;
        case 'L':
          process.stdout.write('socks-server is licensed under the Apache License 2.0.\n');
          return 0;
        case 'h':
          process.stdout.write(USAGE);
          return 0;
        default:
          return usageError(`unknown option -${f}`);
      }
    }
  }
  return a;
}

function usageError(msg: string): number {
  process.stderr.write(`socks-server: ${msg}\n${USAGE}`);
  return 1;
}

/** Dante's text for a config error. */
export function configErrorText(err: unknown): string {
  if (err instanceof ConfigError) {
    if (err.code === 'EDANTED_OPEN' || err.code === 'ECONFIG_OPEN') return `parseconfig(): could not open config file ${err.file}`;
    if (err.line === 0 || err.token === undefined) return err.detail;
    return `${err.file}: problem on line ${err.line} near token "${err.token}": ${err.detail}.  Please see the Dante manual for more information`;
  }
  return (err as Error).message;
}

export function warningText(w: ConfigWarning): string {
  if (w.line === 0 || w.token === undefined) return w.message;
  return `${w.file}: problem on line ${w.line} near token "${w.token}": ${w.message}.  Please see the Dante manual for more information`;
}

/**
 * Parses the config; `startable` also runs the checks start-up would make (-V, -D, -N), and a
 * config that needs the addon fails here, at -V too, rather than failing every login.
 */
function load(file: string, report: (level: 'warning' | 'error', text: string) => void, startable = false, workers = 1): LoadResult | undefined {
  try {
    const r = loadDantedConfig(file);
    for (const w of r.warnings) report('warning', warningText(w));
    if (startable) checkStartable(r.config);
    const refusal = unmetAddonNeeds(dantedAddonNeeds(r, { workers }));
    if (refusal) {
      report('error', refusal.message);
      return undefined;
    }
    return r;
  } catch (err) {
    report('error', configErrorText(err));
    return undefined;
  }
}

function makeLog(config: DantedConfig, debug: number): DanteLog {
  return createDanteLogger(config.logoutput, {
    errorTargets: config.errorlog, format: config.ext.logFormat, debug: Math.max(debug, config.debug),
    ident: config.ext.syslogIdent,
  });
}

/**
 * After a permanent drop the server can no longer unlink a pidfile in a root-owned directory:
 * a shell started while still root waits for the end of a pipe from us (our exit, however it
 * happens) and then removes the pidfile if it still names us (Dante does it as its privileged user).
 */
function removePidfileAtExit(path: string): void {
  const script = 'cat >/dev/null; [ "$(cat -- "$1" 2>/dev/null)" = "$2" ] && rm -f -- "$1"';
  const child = spawn('/bin/sh', ['-c', script, 'socks-server-pidfile', path, String(process.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
}

function readable(path: string): boolean {
  try {
    accessSync(path, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Nothing on the wire may take the daemon down: sessions catch their own exceptions (their
 * guard logs them with the client); anything that still escapes is logged here, loudly and
 * with its stack, and the daemon goes on serving the other clients.
 */
function keepServing(log: () => DanteLog): void {
  const report = (what: string) => (e: unknown): void => {
    const text = vis(e instanceof Error ? (e.stack ?? e.message) : String(e));
    log().alert(`internal error (${what}), outside any session: ${text}`, { event: 'internal-error' });
  };
  process.on('uncaughtException', report('uncaught exception'));
  process.on('unhandledRejection', report('unhandled rejection'));
}

/** danted -D: the detached child runs without -D (common's daemonize, the parent exits 0). */
const DAEMON_ENV = 'SOCKS_SERVER_DAEMON';

/** -N n: n workers, each with its own SO_REUSEPORT listeners; this process only supervises. */
function supervise(args: Args, argv: string[]): void {
  const childArgs = argv.filter((a, i) => a !== '-N' && argv[i - 1] !== '-N' && !/^-N\d+$/.test(a) && a !== '-p' && argv[i - 1] !== '-p');
  superviseWorkers({ count: args.workers, envName: 'SOCKS_SERVER_WORKER', args: childArgs, execArgv: childExecArgv(), pidfile: args.pidfile });
}

async function run(args: Args, underSystemd = false): Promise<void> {
  const first = load(args.file, stderrLine);
  if (first === undefined) {
    stderrLine('alert', 'mother[1/1]: shutting down');
    process.exit(1);
  }
  const config = first.config;
  let log = makeLog(config, args.debug);
  keepServing(() => log);
  // Dante's user.unprivileged, for good (privileges.ts); system passwords then need the helper.
  const plan = dropPlan(config);
  let helper: AuthHelperClient | undefined;
  if (plan !== undefined && config.socksMethod.includes('username') && config.ext.passwordFile === undefined) {
    helper = startAuthHelper((why) => log.alert(`${why}: system password logins fail until socks-server is restarted`),
      config.user.privileged);
  }
  let srv: SocksServer;
  try {
    srv = await startServer(config, {
      log, noKeepalive: args.noKeepalive, reusePort: process.env.SOCKS_SERVER_WORKER !== undefined,
      authHelper: helper, unprivileged: plan !== undefined,
      // -N n: worker k serves its own metrics on port + k - 1 (docs/metrics.md)
      metricsPortOffset: Number(/^(\d+)\//.exec(process.env.SOCKS_SERVER_WORKER ?? '1/1')?.[1] ?? 1) - 1,
    });
    if (process.env.SOCKS_SERVER_WORKER === undefined) writePidfile(args.pidfile);
    if (plan !== undefined) {
      if (process.env.SOCKS_SERVER_WORKER === undefined && args.pidfile !== undefined) removePidfileAtExit(args.pidfile);
      dropPrivileges(plan);
    }
  } catch (err) {
    const text = err instanceof ConfigError ? configErrorText(err) : (err as Error).message;
    log.error(text);
    if (config.logoutput.every((t) => t.kind !== 'stderr')) stderrLine('error', text);
    log.alert('mother[1/1]: shutting down');
    helper?.close();
    await log.close();
    process.exit(1);
  }
  const worker = process.env.SOCKS_SERVER_WORKER ?? '1/1';
  if (underSystemd) log.notice(systemdForegroundNotice('-D'));

  let current = config;
  const sameLog = (a: DantedConfig, b: DantedConfig): boolean =>
    JSON.stringify([a.logoutput, a.errorlog, a.ext.logFormat, a.debug]) === JSON.stringify([b.logoutput, b.errorlog, b.ext.logFormat, b.debug]);
  const reload = async (): Promise<void> => {
    // Privileges are gone for good (with user.unprivileged): files are re-read and log files
    // reopened as that user, never as root.
    {
      // logrotate moved the files away: write new ones (a reload with new targets opens its own)
      log.reopen();
      const next = load(args.file, (level, text) => (level === 'error' ? log.error(text) : log.warn(text)));
      if (next === undefined) {
        const who = plan !== undefined && !readable(args.file) ? ` (files are re-read as user.unprivileged "${plan.user}")` : '';
        log.error(`sighup(): keeping the old configuration${who}`);
        return;
      }
      const keep = sameLog(current, next.config);
      const nextLog = keep ? log : makeLog(next.config, args.debug);
      try {
        await srv.reload(next.config, nextLog);
      } catch (err) {
        if (!keep) void nextLog.close();
        log.error(`sighup(): ${configErrorText(err)}; keeping the old configuration`);
        return;
      }
      log = nextLog;
      current = next.config;
      log.info(`sighup(): reloaded configuration from ${args.file}`);
    }
  };
  handleSignals({
    reload,
    dump: () => srv.dumpClients(),
    stop: (sig, num) => {
      log.info(`${sig === 'SIGINT' ? 'sigint' : 'sigterm'}(): exiting on signal ${num}`);
      srv.close(DRAIN_MS).then(async () => {
        log.alert(`mother[${worker}]: shutting down`);
        if (process.env.SOCKS_SERVER_WORKER === undefined && plan === undefined) removePidfile(args.pidfile);
        helper?.close();
        await log.close();
        process.exit(0);
      }, () => process.exit(0));
    },
  });
  // After the handlers: the line tells a supervisor (or a test) it may signal us, and before
  // process.on('SIGUSR1') Node's own SIGUSR1 action (the inspector) would swallow a dump.
  log.info(`socks-server[${worker}] v${VERSION} running`);
}

export function main(argv: string[]): void {
  const args = parseArgs(argv);
  if (typeof args === 'number') {
    process.exitCode = args;
    return;
  }
  if (args.verify) {
    const r = load(args.file, stderrLine, true, args.workers);
    if (r === undefined) stderrLine('alert', 'mother[1/1]: shutting down');
    process.exitCode = r === undefined ? 1 : 0;
    return;
  }
  let systemd = false;
  if (args.daemon && process.env[DAEMON_ENV] === undefined) {
    // Refuse before forking, so the caller sees a bad config.
    if (load(args.file, stderrLine, true, args.workers) === undefined) {
      process.exitCode = 1;
      return;
    }
    const mode = daemonize({ marker: DAEMON_ENV, args: argv.filter((a) => a !== '-D'), execArgv: childExecArgv() });
    if (mode === 'parent') {
      process.exitCode = 0;
      return;
    }
    systemd = mode === 'systemd';
  }
  if (args.workers > 1 && process.env.SOCKS_SERVER_WORKER === undefined) {
    if (load(args.file, stderrLine, true, args.workers) === undefined) {
      process.exitCode = 1;
      return;
    }
    supervise(args, argv);
    return;
  }
  run(args, systemd).catch((err: Error) => {
    stderrLine('error', err.message);
    process.exit(1);
  });
}

if (require.main === module) main(process.argv.slice(2));
