/** DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message behind its 2-byte length. Pure. */

export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

/** A ReceiveBuffer parser: the next framed message (a copy), or null until it is complete. */
export function parseFramed(buf: Buffer): { message: Buffer; length: number } | null {
  if (buf.length < 2) return null;
  const n = buf.readUInt16BE(0);
  if (buf.length < 2 + n) return null;
  return { message: Buffer.from(buf.subarray(2, 2 + n)), length: 2 + n };
}
