/**
 * Netlink sockets over the addon's transport (netlinkOpen/Send/Watch): requests and dumps
 * matched by sequence number, and multicast events. All encoding is in netlink-codec.ts.
 */
import * as os from 'node:os';
import { requireNative } from './native';
import { decodeError, decodeMessages, NLMSG, NLM_F, type NlMessage } from './netlink-codec';

const REQUEST_TIMEOUT_MS = 2000;

interface Pending {
  seq: number;
  messages: NlMessage[];
  resolve: (m: NlMessage[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/** A netlink error carrying the errno code (`EEXIST`, `EPERM`, ...) and the kernel's message. */
export class NetlinkError extends Error {
  constructor(
    readonly code: string,
    readonly errno: number,
    what: string,
    kernelMessage?: string,
  ) {
    super(`${what}: ${code}${kernelMessage ? ` (${kernelMessage})` : ''}`);
    this.name = 'NetlinkError';
  }
}

function errnoName(n: number): string {
  const table = os.constants.errno as Record<string, number>;
  return Object.keys(table).find((k) => table[k] === n) ?? `errno ${n}`;
}

/**
 * One netlink socket. Requests run one at a time (a dump's parts arrive in order on the
 * socket); messages that answer no request (multicast events) go to onEvent.
 */
export class NetlinkSocket {
  private readonly fd: number;
  private readonly watch: { close(): void };
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private pending: Pending | undefined;
  private readonly queue: Array<() => void> = [];
  private closed = false;

  constructor(
    protocol: number,
    groups: number[] = [],
    private readonly onEvent?: (m: NlMessage) => void,
    /** ENOBUFS and other read errors: events were lost, re-read everything. */
    private readonly onOverrun?: (errno: number) => void,
  ) {
    const nat = requireNative('paths = auto (netlink)');
    this.fd = nat.netlinkOpen(protocol, groups);
    this.watch = nat.netlinkWatch(this.fd, (d, errno) => this.receive(d, errno));
  }

  /** Sends one encoded request (built with `seq`) and resolves with its answers (an ACK: []). */
  request(build: (seq: number) => Buffer, what: string): Promise<NlMessage[]> {
    return new Promise((resolve, reject) => {
      const run = (): void => {
        if (this.closed) return reject(new Error(`${what}: netlink socket closed`));
        const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
        const timer = setTimeout(() => this.finish(new Error(`${what}: no answer from the kernel in ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
        timer.unref();
        this.pending = { seq, messages: [], resolve, reject, timer, what };
        try {
          requireNative('netlink').netlinkSend(this.fd, build(seq));
        } catch (err) {
          this.finish(err as Error);
        }
      };
      if (this.pending) this.queue.push(run);
      else run();
    });
  }

  /** Sends without waiting for the answer (at shutdown); errors are ignored. */
  sendNow(build: (seq: number) => Buffer): void {
    if (this.closed) return;
    try {
      requireNative('netlink').netlinkSend(this.fd, build((this.seq = (this.seq + 1) >>> 0 || 1)));
    } catch {
      // nothing to do at shutdown
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    this.finish(new Error('netlink socket closed'));
    for (const run of this.queue.splice(0)) run();
  }

  private finish(result: NlMessage[] | Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
    const next = this.queue.shift();
    if (next) next();
  }

  private receive(datagram: Buffer | null, errno: number): void {
    if (!datagram) {
      this.onOverrun?.(errno);
      return;
    }
    let messages: NlMessage[];
    try {
      messages = decodeMessages(datagram);
    } catch {
      return; // a malformed datagram from the kernel: nothing to match it with
    }
    for (const m of messages) {
      const p = this.pending;
      if (!p || m.seq !== p.seq) {
        if (m.type !== NLMSG.ERROR && m.type !== NLMSG.DONE) this.onEvent?.(m);
        continue;
      }
      if (m.type === NLMSG.DONE) this.finish(p.messages);
      else if (m.type === NLMSG.ERROR) {
        const e = decodeError(m);
        if (e.errno === 0) this.finish(p.messages);
        else this.finish(new NetlinkError(errnoName(e.errno), e.errno, p.what, e.message));
      } else {
        p.messages.push(m);
        // A reply that is neither multi-part nor acked ends with itself (CTRL_CMD_GETFAMILY).
        if (!(m.flags & NLM_F.MULTI)) this.finish(p.messages);
      }
    }
  }
}
