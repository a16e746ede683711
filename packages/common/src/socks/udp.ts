/** SOCKS5 UDP ASSOCIATE datagram header: RSV(2) FRAG ATYP ADDR PORT DATA. Whole datagrams only. */
import { ProtocolError } from '../errors';
import { SocksAddress, decodeAddress, encodedAddressLength, writeAddress } from './address';

export interface UdpDatagram {
  frag: number;
  address: SocksAddress;
  /** A view into the input datagram (no copy). */
  data: Buffer;
}

/** Throws ESOCKS_UDP_TRUNCATED for a datagram shorter than its header, ESOCKS_ATYP for bad ATYP. */
export function parseUdpDatagram(buf: Buffer): UdpDatagram {
  if (buf.length < 4) throw new ProtocolError('ESOCKS_UDP_TRUNCATED', `UDP datagram of ${buf.length} bytes`);
  const decoded = decodeAddress(buf, 3);
  if (decoded === null) throw new ProtocolError('ESOCKS_UDP_TRUNCATED', 'UDP datagram shorter than its header');
  return { frag: buf[2], address: decoded.address, data: buf.subarray(3 + decoded.length) };
}

export function encodeUdpDatagram(address: SocksAddress, data: Buffer, frag = 0): Buffer {
  const hdr = 3 + encodedAddressLength(address);
  const out = Buffer.allocUnsafe(hdr + data.length);
  out[0] = 0;
  out[1] = 0;
  out[2] = frag;
  writeAddress(address, out, 3);
  data.copy(out, hdr);
  return out;
}
