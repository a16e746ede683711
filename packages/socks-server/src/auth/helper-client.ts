/** The serving process's side of the privileged helper (privileged-helper.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';
import type { AuthVerdict } from './authenticator';
import type { HelperReply, HelperRequest } from './helper-protocol';

export interface AuthHelperClient {
  verify(user: string, password: string): Promise<AuthVerdict>;
  readonly pid: number | undefined;
  close(): void;
}

/** How long a check may take in the helper before it counts as failed. */
const HELPER_TIMEOUT_MS = 30_000;

/** Forks the helper (as `privilegedUser`, default root); must run while this process is still root. */
export function startAuthHelper(onExit: (why: string) => void, privilegedUser?: string): AuthHelperClient {
  const script = join(__dirname, `privileged-helper${extname(__filename)}`);
  const env = { ...process.env };
  if (privilegedUser !== undefined) env.SOCKS_SERVER_HELPER_USER = privilegedUser;
  else delete env.SOCKS_SERVER_HELPER_USER;
  const child: ChildProcess = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', env });
  const pending = new Map<number, { resolve: (v: AuthVerdict) => void; timer: NodeJS.Timeout }>();
  let next = 1;
  let gone: string | undefined;
  const settle = (id: number, v: AuthVerdict): void => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(v);
  };
  child.on('message', (m: HelperReply) => {
    if (typeof m?.id !== 'number') return;
    settle(m.id, m.ok ? { ok: true } : { ok: false, why: m.why ?? 'wrong password or unknown user' });
  });
  child.on('error', () => undefined);
  child.on('exit', (code, signal) => {
    gone = `privileged helper exited (${signal ?? `code ${code}`})`;
    for (const id of [...pending.keys()]) settle(id, { ok: false, why: gone });
    onExit(gone);
  });
  return {
    pid: child.pid,
    verify(user, password) {
      if (gone !== undefined || !child.connected) return Promise.resolve({ ok: false, why: gone ?? 'privileged helper not connected' });
      const id = next++;
      return new Promise<AuthVerdict>((resolve) => {
        const timer = setTimeout(() => settle(id, { ok: false, why: 'privileged helper timed out' }), HELPER_TIMEOUT_MS);
        timer.unref();
        pending.set(id, { resolve, timer });
        const req: HelperRequest = { id, user, password };
        child.send(req, (err) => {
          if (err) settle(id, { ok: false, why: `privileged helper: ${err.message}` });
        });
      });
    },
    close() {
      if (child.connected) child.disconnect();
      if (child.exitCode === null) child.kill();
    },
  };
}
