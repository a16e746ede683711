/**
 * The established phase shared by CONNECT and BIND: the early data goes to the destination
 * first, then the relay runs both ways until one side ends, and the session closes with
 * Dante's reason text.
 */
import type * as net from 'node:net';
import { Relay, type RelayError } from '@mptcp-proxy/common';
import { strerror } from '../log/dante-format';
import { tuneSocket } from '../net/dialer';
import type { CommandContext } from './command';

/** Dante's close reason for a relay that failed. */
export function relayCloseReason(err: RelayError): string {
  if (err.code === 'ERELAY_IDLE') return 'i/o timeout';
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  const who = err.side === 'b' ? 'remote peer' : 'local client';
  if (err.code === 'ERELAY_SOCKET') return `${who} error (${strerror(cause?.code)})`;
  return `${who} closed`;
}

/**
 * Relays the session's client and `dest`. `onRelay` gets the relay as soon as it exists
 * (before any reply, so a handler's counts and dispose see it); `afterEarly` runs once the
 * early data is queued to `dest` and before anything flows back (CONNECT replies there).
 */
export function startStreamRelay(ctx: CommandContext, dest: net.Socket, onRelay: (r: Relay) => void, afterEarly?: () => void): Relay {
  const s = ctx.session;
  tuneSocket(dest, ctx.rt.noKeepalive);
  const early = s.takeEarly();
  // splice(2) moves the bytes in the kernel once the policy's bytes went through (by default
  // 64 KiB: short sessions never pay for the switch); the JS pipes carry everything before, or
  // when splice cannot be had.
  const relay = new Relay(s.client, dest, {
    splice: ctx.rt.shared.splice,
    spliceAfterBytes: ctx.rt.shared.splice.policy.afterBytes,
    ...(ctx.ioMs > 0 ? { idleTimeoutMs: ctx.ioMs } : {}),
  });
  onRelay(relay);
  s.established();
  // Early data goes to the destination before any later client byte.
  const up = relay.startAtoB(early);
  afterEarly?.();
  const down = relay.startBtoA();
  // Which side ended first, from the pipes (socket 'end' events do not fire under splice).
  let destFirst = false;
  let upEnded = false;
  let downEnded = false;
  // timeout.tcp_fin_wait: once one direction has ended, the other has this long to end too.
  const halfClosed = (): void => {
    if (ctx.finWaitMs > 0 && upEnded !== downEnded) s.idleIn(ctx.finWaitMs);
  };
  up.done.then(s.guard(() => {
    upEnded = true;
    halfClosed();
  }), () => undefined);
  down.done.then(s.guard(() => {
    downEnded = true;
    destFirst = !upEnded;
    halfClosed();
  }), () => undefined);
  s.client.resume();
  relay.done.then(
    s.guard(() => s.close(destFirst ? 'remote peer closed' : 'local client closed')),
    s.guard((err: RelayError) => {
      s.settle('error', err.code);
      s.close(relayCloseReason(err));
    }),
  );
  return relay;
}
