/**
 * Node-style errors (code, errno, syscall, address, port) for this package. It cannot use
 * @mptcp-proxy/common's ProxyError because common depends on this package (syslog).
 */
export interface SystemErrorFields {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

export class MptcpNativeError extends Error {
  readonly code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  constructor(fields: SystemErrorFields, message: string) {
    super(message);
    this.name = 'MptcpNativeError';
    this.code = fields.code;
    if (fields.errno !== undefined) this.errno = fields.errno;
    if (fields.syscall !== undefined) this.syscall = fields.syscall;
    if (fields.address !== undefined) this.address = fields.address;
    if (fields.port !== undefined) this.port = fields.port;
  }
}

/** Stable codes for conditions that are not an errno. */
export const ErrorCodes = {
  UNAVAILABLE: 'EMPTCP_UNAVAILABLE',
  /** A configuration uses a feature that only the addon provides, and it is not loaded. */
  ADDON_REQUIRED: 'EMPTCP_ADDON_REQUIRED',
  INVALID_OPTION: 'ERR_INVALID_ARG_VALUE',
  NOT_A_SOCKET: 'EMPTCP_NO_FD',
  ORIGINAL_DST_MPTCP: 'EMPTCP_ORIGINAL_DST',
} as const;

/** Add address/port to a native errno error, shaped like Node's `connect ECONNREFUSED 1.2.3.4:80`. */
export function decorate(err: NodeJS.ErrnoException, address?: string, port?: number): NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (address !== undefined) {
    e.address = address;
    if (port !== undefined) e.port = port;
    e.message = `${e.syscall ?? 'connect'} ${e.code} ${address}${port !== undefined ? `:${port}` : ''}`;
  }
  return e;
}

export function invalid(message: string): MptcpNativeError {
  return new MptcpNativeError({ code: ErrorCodes.INVALID_OPTION }, message);
}
