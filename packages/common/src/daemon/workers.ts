/**
 * `-N n`: n worker processes, each with its own SO_REUSEPORT listeners (the kernel spreads new
 * connections over them); the process that calls superviseWorkers() only supervises: it writes
 * the pidfile, passes SIGHUP/SIGUSR1/SIGTERM/SIGINT on to every worker, and exits (removing the
 * pidfile) once all workers have exited: 0 after a SIGTERM/SIGINT, else 1. Used by both daemons.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { removePidfile, writePidfile } from './pidfile';

export interface WorkerOptions {
  count: number;
  /** Set in each worker's environment to `i/count` (1-based). */
  envName: string;
  /** The worker's argv (without -N, -p or -D). */
  args: string[];
  execArgv?: string[];
  pidfile?: string;
}

export function superviseWorkers(opts: WorkerOptions): ChildProcess[] {
  const children: ChildProcess[] = [];
  writePidfile(opts.pidfile);
  let stopping = false;
  for (let i = 0; i < opts.count; i++) {
    const c = fork(process.argv[1], opts.args, {
      execArgv: opts.execArgv ?? process.execArgv,
      env: { ...process.env, [opts.envName]: `${i + 1}/${opts.count}` },
    });
    children.push(c);
    c.on('exit', () => {
      if (children.every((x) => x.exitCode !== null || x.signalCode !== null)) {
        removePidfile(opts.pidfile);
        process.exit(stopping ? 0 : 1);
      }
    });
  }
  const forward = (sig: NodeJS.Signals): void => {
    if (sig === 'SIGTERM' || sig === 'SIGINT') stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(sig);
  };
  for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGTERM', 'SIGINT'] as NodeJS.Signals[]) process.on(sig, () => forward(sig));
  return children;
}
