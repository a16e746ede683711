/**
 * Finds the compiled addon: build/Release, build/Debug, then prebuilds/<platform>-<arch>/.
 * MPTCP_NATIVE_PATH (a directory or a .node file) replaces the search list.
 * Never throws: a failure is reported with every path tried.
 */
import * as path from 'node:path';
import type { NativeBinding } from './native-binding';

export const ADDON_FILE = 'mptcp_native.node';

export interface LoadResult {
  binding: NativeBinding | null;
  /** The file that loaded. */
  path?: string;
  /** Why nothing loaded, naming every path tried. */
  reason?: string;
  tried: string[];
}

export function candidatePaths(root = path.resolve(__dirname, '..'), override = process.env.MPTCP_NATIVE_PATH): string[] {
  if (override) return [override.endsWith('.node') ? override : path.join(override, ADDON_FILE)];
  return [
    path.join(root, 'build', 'Release', ADDON_FILE),
    path.join(root, 'build', 'Debug', ADDON_FILE),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_FILE),
  ];
}

export function loadNative(paths: string[] = candidatePaths()): LoadResult {
  const errors: string[] = [];
  for (const p of paths) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const binding = require(p) as NativeBinding;
      return { binding, path: p, tried: paths };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      errors.push(`${p}: ${err.code === 'MODULE_NOT_FOUND' ? 'not found' : err.message.split('\n')[0]}`);
    }
  }
  const why = process.platform !== 'linux' ? `MPTCP needs Linux (platform is ${process.platform}); ` : '';
  return { binding: null, tried: paths, reason: `${why}native addon not loaded; tried ${errors.join('; ')}` };
}
