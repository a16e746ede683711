#!/usr/bin/env node
/**
 * redsocks-ts: redsocks' command line (-c -t -p -v -h, and our -N) and signals, on common's daemon
 * lifecycle (daemonize, pidfile, signals, privilege drop). SIGHUP reopens the log file and
 * reloads the config atomically (redsocks itself dies on SIGHUP). Under systemd `daemon = on`
 * is ignored (logged once): the daemon stays the unit's main process.
 */
import * as path from 'node:path';
import {
  ConfigError, daemonize, dropPrivileges, handleSignals, removePidfile, setNofileLimit, splicePolicyFromEnv, superviseWorkers,
  systemdForegroundNotice, writePidfile, type SplicePolicy,
} from '@mptcp-proxy/common';
import { unmetAddonNeeds } from 'mptcp-native';
import { checkPlaceholders, checkStartable, loadRedsocksConfig, parseLogTarget, redsocksAddonNeeds, redsocksErrorText } from './config';
import type { LoadResult, RedsocksConfig } from './config/types';
import { startRedsocks, type RedsocksHandle } from './core/daemon';
import { createRedsocksLog, type RedsocksLog } from './log/redsocks-log';
import { VERSION } from './version';

const DAEMON_ENV = 'REDSOCKS_TS_DAEMONIZED';
/** Set in each -N worker's environment (`i/n`). */
const WORKER_ENV = 'REDSOCKS_TS_WORKER';

export const USAGE = [
  'Usage: redsocks-ts [-?hvt] [-c config] [-p pidfile] [-N workers]',
  '  -h, -?       this message',
  '  -v           print version',
  '  -t           test config syntax',
  '  -p           write pid to pidfile',
  '  -N n         n worker processes sharing the listeners (SO_REUSEPORT; not in redsocks)',
  '',
].join('\n');

export interface CliArgs {
  conf: string;
  test: boolean;
  pidfile?: string;
  /** -N: worker processes (1 = this process serves itself). */
  workers: number;
  action?: 'help' | 'version';
  /** A bad option value (ours: -N), printed with exit status 1. */
  error?: string;
}

/** getopt("h?vtc:p:N:"): an unknown option prints the usage and exits 0, as redsocks does. */
export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { conf: 'redsocks.conf', test: false, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') continue;
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (f === 'c' || f === 'p' || f === 'N') {
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) return { ...out, action: 'help' };
        if (f === 'c') out.conf = v;
        else if (f === 'p') out.pidfile = v;
        else if (/^[1-9]\d{0,2}$/.test(v)) out.workers = Number(v);
        else return { ...out, error: `-N ${v}: expected a number of workers (1 to 999)` };
        break;
      }
      if (f === 't') out.test = true;
      else if (f === 'v') return { ...out, action: 'version' };
      else return { ...out, action: 'help' };
    }
  }
  return out;
}

/** redsocks' stderr form of a config error (every line redsocks prints, plus our hint). */
export function formatConfigError(err: unknown): string {
  if (err instanceof ConfigError) {
    if (err.code === 'ECONFIG_PLACEHOLDER') return err.message; // ours, not a redsocks parse error
    return err.line > 0 ? redsocksErrorText(err).trimEnd() : err.detail;
  }
  return (err as Error).message ?? String(err);
}

function load(path: string): LoadResult {
  return loadRedsocksConfig(path);
}

function makeLog(config: RedsocksConfig): RedsocksLog {
  const target = parseLogTarget(config.base.log, config.file, config.base.line);
  return createRedsocksLog([target], { levels: { debug: config.base.logDebug, info: config.base.logInfo }, ident: config.base.syslogIdent });
}

async function run(args: CliArgs): Promise<number> {
  let result: LoadResult;
  try {
    result = load(args.conf);
  } catch (err) {
    process.stderr.write(`${formatConfigError(err)}\n`);
    return 1;
  }
  for (const w of result.warnings) process.stderr.write(`${w.file}:${w.line}: ${w.message}\n`);
  // A config that needs the addon fails here, at -t too, rather than failing every connection.
  const refusal = unmetAddonNeeds(redsocksAddonNeeds(result));
  if (refusal) {
    process.stderr.write(`${refusal.message}\n`);
    return 1;
  }
  if (args.test) {
    // Unlike redsocks -t, a log target that start-up would refuse fails the test too.
    if (!result.config.base.present) return 0;
    try {
      parseLogTarget(result.config.base.log, result.config.file, result.config.base.line);
    } catch (err) {
      process.stderr.write(`${formatConfigError(err)}\n`);
      return 1;
    }
    return 0;
  }
  const config = result.config;
  let splicePolicy: SplicePolicy;
  try {
    // what redsocks checks at start but not at -t: a base section, a usable log target,
    // and (ours) no password left at the sample's placeholder
    checkStartable(config);
    checkPlaceholders(result);
    splicePolicy = splicePolicyFromEnv();
  } catch (err) {
    process.stderr.write(`${formatConfigError(err)}\n`);
    return 1;
  }
  // fork + setsid (common's daemonize); the child chdirs to / once running (paths made absolute)
  const mode = config.base.daemon
    ? daemonize({
      marker: DAEMON_ENV,
      args: ['-c', path.resolve(args.conf), ...(args.pidfile ? ['-p', path.resolve(args.pidfile)] : []), ...(args.workers > 1 ? ['-N', String(args.workers)] : [])],
    })
    : 'foreground';
  if (mode === 'parent') return 0;
  const worker = process.env[WORKER_ENV];
  if (args.workers > 1 && worker === undefined) {
    // this process only supervises (common's superviseWorkers exits with the workers)
    if (mode === 'child') process.chdir('/');
    superviseWorkers({ count: args.workers, envName: WORKER_ENV, args: ['-c', path.resolve(args.conf)], pidfile: args.pidfile });
    return new Promise<number>(() => undefined);
  }
  let log: RedsocksLog;
  try {
    log = makeLog(config);
  } catch (err) {
    process.stderr.write(`${formatConfigError(err)}\n`);
    return 1;
  }
  if (mode === 'systemd') log.notice(systemdForegroundNotice('daemon = on'));
  if (config.base.rlimitNofile > 0) {
    try {
      setNofileLimit(config.base.rlimitNofile);
    } catch (err) {
      log.error((err as Error).message);
      return 1;
    }
  }
  let handle: RedsocksHandle;
  try {
    // under -N the UDP services (redudp, dns, dnstc) run in the first worker only
    handle = await startRedsocks(config, { log, splicePolicy, reusePort: worker !== undefined, services: worker === undefined || worker.startsWith('1/') });
  } catch (err) {
    log.error(`${(err as Error).message}`);
    return 1;
  }
  try {
    dropPrivileges({ user: config.base.user, group: config.base.group });
  } catch (err) {
    log.error(`setuid/setgid: ${(err as Error).message}`);
    await handle.close();
    return 1;
  }
  // chdir first: a supervisor (or a test) that sees the pidfile sees the daemon's final state
  if (mode === 'child') process.chdir('/');
  // a worker's pidfile is its supervisor's
  if (worker === undefined) writePidfile(args.pidfile);
  // Handlers first, then the line that tells a supervisor (or a test) it may signal us: before
  // process.on('SIGUSR1'), Node's own SIGUSR1 action (the inspector) would swallow a dump.
  return new Promise<number>((resolve) => {
    handleSignals({
      reopenLogs: () => log.reopen(),
      reload: async () => {
        try {
          const next = load(args.conf);
          const refused = unmetAddonNeeds(redsocksAddonNeeds(next));
          if (refused) throw refused;
          checkPlaceholders(next);
          await handle.reload(next.config);
          log.notice(`configuration reloaded from ${args.conf}`);
        } catch (err) {
          const where = err instanceof ConfigError ? err.message : `${args.conf}: ${(err as Error).message}`;
          log.error(`reload failed, keeping the running configuration: ${where}`);
        }
      },
      dump: () => handle.dump(),
      stop: () => {
        log.notice('redsocks goes down');
        void handle.close().then(async () => {
          await log.close();
          if (worker === undefined) removePidfile(args.pidfile);
          resolve(0);
        });
      },
    });
    log.notice(`redsocks started, conn_max=${handle.connMax}${worker !== undefined ? `, worker ${worker}` : ''}`);
  });
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.error !== undefined) {
    process.stderr.write(`${args.error}\n${USAGE}`);
    return 1;
  }
  if (args.action === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.action === 'version') {
    process.stdout.write(`redsocks-ts/${VERSION} (redsocks 0.5 compatible)\nRuns with Node ${process.version}\n`);
    return 0;
  }
  return run(args);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (rc) => process.exit(rc),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
