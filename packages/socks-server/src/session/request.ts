import type { SocksAddress } from '@mptcp-proxy/common';
import type { Command } from '../config';

/** A parsed SOCKS4/5 request. */
export interface Request {
  version: 4 | 5;
  command: Command;
  address: SocksAddress;
  /** The destination's address once known: the literal, or the name resolved (not for UDP names). */
  target?: { ip: string; family: 4 | 6 };
}
