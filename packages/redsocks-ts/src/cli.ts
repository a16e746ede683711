#!/usr/bin/env node
/**
 * redsocks-ts: redsocks' command line (-c -t -p -v -h) and signals. SIGHUP reloads the
 * config atomically (redsocks itself dies on SIGHUP).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, setNofileLimit } from '@mptcp-proxy/common';
import { checkStartable, loadRedsocksConfig, parseLogTarget, redsocksErrorText } from './config';
import type { LoadResult, RedsocksConfig } from './config/types';
import { startRedsocks, type RedsocksHandle } from './core/daemon';
import { createRedsocksLog, type RedsocksLog } from './log/redsocks-log';

const VERSION = '0.1.0';
const DAEMON_ENV = 'REDSOCKS_TS_DAEMONIZED';

export const USAGE = [
  'Usage: redsocks-ts [-?hvt] [-c config] [-p pidfile]',
  '  -h, -?       this message',
  '  -v           print version',
  '  -t           test config syntax',
  '  -p           write pid to pidfile',
  '',
].join('\n');

export interface CliArgs {
  conf: string;
  test: boolean;
  pidfile?: string;
  action?: 'help' | 'version';
}

/** getopt("h?vtc:p:"): an unknown option prints the usage and exits 0, as redsocks does. */
export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { conf: 'redsocks.conf', test: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') continue;
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (f === 'c' || f === 'p') {
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) return { ...out, action: 'help' };
        if (f === 'c') out.conf = v;
        else out.pidfile = v;
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
  if (err instanceof ConfigError) return err.line > 0 ? redsocksErrorText(err).trimEnd() : err.detail;
  return (err as Error).message ?? String(err);
}

function load(path: string): LoadResult {
  return loadRedsocksConfig(path);
}

function makeLog(config: RedsocksConfig): RedsocksLog {
  const target = parseLogTarget(config.base.log, config.file, config.base.line);
  return createRedsocksLog([target], { levels: { debug: config.base.logDebug, info: config.base.logInfo } });
}

function dropPrivileges(config: RedsocksConfig): void {
  const { group, user } = config.base;
  if (group !== undefined && process.setgid) process.setgid(group);
  if (user !== undefined && process.setuid) process.setuid(user);
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
  if (args.test) return 0;
  const config = result.config;
  try {
    // what redsocks checks at start but not at -t: a base section, a usable log target
    checkStartable(config);
  } catch (err) {
    process.stderr.write(`${formatConfigError(err)}\n`);
    return 1;
  }
  if (config.base.daemon && process.env[DAEMON_ENV] !== '1') {
    // fork + setsid; the child chdirs to / once running (paths are made absolute first)
    const argv = [process.argv[1], '-c', path.resolve(args.conf)];
    if (args.pidfile) argv.push('-p', path.resolve(args.pidfile));
    const child = spawn(process.execPath, [...process.execArgv, ...argv], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [DAEMON_ENV]: '1' },
    });
    child.unref();
    return 0;
  }
  let log: RedsocksLog;
  try {
    log = makeLog(config);
  } catch (err) {
    process.stderr.write(`${formatConfigError(err)}\n`);
    return 1;
  }
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
    handle = await startRedsocks(config, { log });
  } catch (err) {
    log.error(`${(err as Error).message}`);
    return 1;
  }
  try {
    dropPrivileges(config);
  } catch (err) {
    log.error(`setuid/setgid: ${(err as Error).message}`);
    await handle.close();
    return 1;
  }
  if (args.pidfile) fs.writeFileSync(args.pidfile, `${process.pid}\n`);
  if (process.env[DAEMON_ENV] === '1') process.chdir('/');
  log.notice(`redsocks started, conn_max=${handle.connMax}`);

  let reloading = false;
  process.on('SIGPIPE', () => undefined);
  process.on('SIGUSR1', () => handle.dump());
  process.on('SIGHUP', () => {
    // logrotate moved the file away: write a new one (also while a reload is under way)
    log.reopen();
    if (reloading) return;
    reloading = true;
    void (async () => {
      try {
        const next = load(args.conf);
        await handle.reload(next.config);
        log.notice(`configuration reloaded from ${args.conf}`);
      } catch (err) {
        const where = err instanceof ConfigError ? err.message : `${args.conf}: ${(err as Error).message}`;
        log.error(`reload failed, keeping the running configuration: ${where}`);
      } finally {
        reloading = false;
      }
    })();
  });
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      log.notice('redsocks goes down');
      void handle.close().then(async () => {
        await log.close();
        if (args.pidfile) fs.rmSync(args.pidfile, { force: true });
        resolve(0);
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
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
