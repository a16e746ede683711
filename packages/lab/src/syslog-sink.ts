/**
 * A syslog socket for tests: python3 binds a unix datagram socket (Node has none) and prints
 * each datagram it receives, one per line.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface SyslogSink {
  /** The datagrams received so far. */
  readonly messages: string[];
  /** Resolves with the first `n` datagrams (rejects after `ms`). */
  take(n: number, ms?: number): Promise<string[]>;
  close(): void;
}

export async function syslogSink(path: string): Promise<SyslogSink> {
  const py: ChildProcess = spawn('python3', [
    '-u', '-c',
    'import socket,sys\n' +
      's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n' +
      's.bind(sys.argv[1])\n' +
      'print("ready",flush=True)\n' +
      'while True:\n' +
      '  print(s.recv(65536).decode().replace("\\n"," "),flush=True)\n',
    path,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let buf = '';
  let ready = false;
  const waiters: Array<() => void> = [];
  py.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!ready && line === 'ready') ready = true;
      else messages.push(line);
    }
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    const check = (): void => (ready ? resolve() : void waiters.push(check));
    py.once('exit', (code) => reject(new Error(`syslog receiver exited (${code})`)));
    check();
  });
  return {
    messages,
    take(n, ms = 5000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${messages.length}/${n} syslog messages after ${ms} ms`)), ms);
        const check = (): void => {
          if (messages.length >= n) {
            clearTimeout(t);
            resolve(messages.slice(0, n));
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => void py.kill('SIGKILL'),
  };
}
