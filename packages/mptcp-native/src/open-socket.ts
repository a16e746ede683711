/** socket() with the MPTCP mode policy: 'on' insists, 'auto' falls back to TCP (said once), 'off' is TCP. */
import type { NativeBinding } from './native-binding';
import { ErrorCodes, MptcpNativeError } from './errors';
import { warnOnce } from './native';

export type MptcpMode = 'on' | 'off' | 'auto';

/** socket() errors that mean "this kernel has no usable MPTCP". */
const NO_MPTCP = new Set(['EPROTONOSUPPORT', 'ENOPROTOOPT', 'EINVAL']);

const WHY: Record<string, string> = {
  EPROTONOSUPPORT: 'the kernel is built without MPTCP',
  ENOPROTOOPT: 'MPTCP is disabled (sysctl net.mptcp.enabled=0)',
  EINVAL: 'the kernel is older than 5.6',
};

export function checkMode(mode: unknown): MptcpMode {
  if (mode === undefined) return 'auto';
  if (mode === 'on' || mode === 'off' || mode === 'auto') return mode;
  throw new MptcpNativeError({ code: ErrorCodes.INVALID_OPTION }, `mptcp must be 'on', 'off' or 'auto', got ${String(mode)}`);
}

export function openSocket(b: NativeBinding, family: 4 | 6, mode: MptcpMode): { fd: number; mptcp: boolean } {
  if (mode === 'off') return { fd: b.socket(family, b.constants.IPPROTO_TCP), mptcp: false };
  try {
    return { fd: b.socket(family, b.constants.IPPROTO_MPTCP), mptcp: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!NO_MPTCP.has(err.code ?? '')) throw err;
    if (mode === 'on') {
      throw new MptcpNativeError({ code: ErrorCodes.UNAVAILABLE, errno: err.errno, syscall: 'socket' },
        `mptcp: 'on' but socket(IPPROTO_MPTCP) failed with ${err.code}: ${WHY[err.code ?? '']}`);
    }
    warnOnce('MPTCP_FALLBACK_TCP', `mptcp-native: socket(IPPROTO_MPTCP) failed with ${err.code} (${WHY[err.code ?? '']}); using plain TCP`);
    return { fd: b.socket(family, b.constants.IPPROTO_TCP), mptcp: false };
  }
}
