/**
 * Which client bytes may ride a TCP Fast Open SYN (docs/optimistic-connect.md, "TCP Fast
 * Open"). SYN data can be duplicated by the network, so only replay-safe bytes go there: a TLS
 * handshake record (a replayed ClientHello starts a handshake that cannot finish twice) or a
 * port the operator allowlisted. Everything else waits for the first segment after the SYN-ACK.
 */
const TLS_HANDSHAKE = 0x16;

export function earlyDataMayRideSyn(early: Buffer, destPort: number, allowPorts: readonly number[]): boolean {
  if (early.length === 0) return false;
  return early[0] === TLS_HANDSHAKE || allowPorts.includes(destPort);
}

/** Early data that may be replayed on a second connection when the first one's fate is unknown. */
export function earlyDataIsIdempotent(early: Buffer): boolean {
  return early.length === 0 || early[0] === TLS_HANDSHAKE;
}
