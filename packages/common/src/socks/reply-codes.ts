/** errno (Node error codes) -> SOCKS REP, as Dante and microsocks map them. */
import { Rep, Socks4Rep } from './constants';

export interface ErrnoToRepOptions {
  /** Under the optimistic-connect methods a timeout may be reported as REP 09. */
  timeoutRep?: number;
}

const DNS_FAILURES = new Set([
  'ENOTFOUND',
  'ENODATA',
  'ESERVFAIL',
  'ENONAME',
  'EREFUSED',
  'EBADNAME',
  'EBADRESP',
  'ETIMEOUT',
]);

export function errnoToRep(code: string | undefined, opts: ErrnoToRepOptions = {}): number {
  if (code === undefined) return Rep.GeneralFailure;
  switch (code) {
    case 'ECONNREFUSED':
      return Rep.ConnRefused;
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return Rep.NetUnreachable;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return Rep.HostUnreachable;
    case 'ETIMEDOUT':
      return opts.timeoutRep ?? Rep.HostUnreachable;
    case 'EACCES':
    case 'EPERM':
      return Rep.NotAllowed;
    default:
      if (code.startsWith('EAI_') || DNS_FAILURES.has(code)) return Rep.HostUnreachable;
      return Rep.GeneralFailure;
  }
}

/** SOCKS4 has one failure code. */
export function errnoToSocks4Rep(_code?: string): number {
  return Socks4Rep.Rejected;
}

/** The REP a server sends for a ProtocolError from parseRequest: ATYP -> 08, else 01. */
export function protocolErrorToRep(code: string | undefined): number {
  if (code === 'ESOCKS_ATYP') return Rep.AtypNotSupported;
  if (code === 'ESOCKS_COMMAND') return Rep.CommandNotSupported;
  return Rep.GeneralFailure;
}
