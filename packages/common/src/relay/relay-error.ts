import { ProxyError } from '../errors';

/**
 * Why a pipe or relay stopped early. Codes: ERELAY_SOCKET (a socket emitted 'error'; `cause`),
 * ERELAY_CLOSED (a socket was destroyed before its direction finished), ERELAY_IDLE (idle timeout),
 * ERELAY_ABORTED (the owner called abort()).
 * `side` is 'src'/'dst' for a pipe and 'a'/'b' for a relay.
 */
export class RelayError extends ProxyError {
  side?: 'src' | 'dst' | 'a' | 'b';
  /** Bytes moved by the failed pipe. */
  bytes?: number;
  /** Bytes moved by a relay's two directions. */
  aToB?: number;
  bToA?: number;
}

export function relayError(code: string, message: string, side?: RelayError['side'], cause?: unknown): RelayError {
  const err = new RelayError(code, message, cause === undefined ? undefined : { cause });
  if (side !== undefined) err.side = side;
  return err;
}
