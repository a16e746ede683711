/** The process-wide addon instance, loaded on first use, with the one-time degrade warning. */
import { loadNative, LoadResult } from './loader';
import type { NativeBinding } from './native-binding';
import { ErrorCodes, MptcpNativeError } from './errors';

let state: LoadResult | undefined;
const warned = new Set<string>();

/** Emit a process warning once per key. */
export function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(message, { code: key });
}

function loaded(): LoadResult {
  state ??= loadNative();
  return state;
}

/** The binding for a feature that falls back to plain `net` without it (with one warning). */
export function native(): NativeBinding | null {
  const s = loaded();
  if (!s.binding) warnOnce('MPTCP_NATIVE_UNAVAILABLE', `mptcp-native: falling back to plain TCP (net): ${s.reason}`);
  return s.binding;
}

/** Whether the addon loaded, and from where or why not (no warning: nothing falls back here). */
export function addonStatus(): { loaded: boolean; reason?: string; path?: string; tried: string[] } {
  const s = loaded();
  return s.binding ? { loaded: true, path: s.path, tried: s.tried } : { loaded: false, reason: s.reason, tried: s.tried };
}

/** The binding, or an EMPTCP_UNAVAILABLE error naming the feature and why the addon is missing. */
export function requireNative(feature: string): NativeBinding {
  const s = loaded();
  if (s.binding) return s.binding;
  throw new MptcpNativeError({ code: ErrorCodes.UNAVAILABLE }, `${feature} needs the mptcp-native addon, which is not loaded: ${s.reason}`);
}
