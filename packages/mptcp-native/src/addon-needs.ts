/**
 * The settings that only work with the addon, checked before a daemon starts (and by its
 * `-t`/`-V`): a missing addon refuses them with one message naming each setting and the fix,
 * instead of a daemon that starts and then fails every connection (docs/packaging.md).
 */
import * as path from 'node:path';
import { ErrorCodes, MptcpNativeError } from './errors';
import { ADDON_FILE } from './loader';
import { addonStatus } from './native';
import { SPLICE_ADDON_FILE, spliceStatus } from './splice';

export interface AddonNeed {
  /** `file:line` of the setting (or the file alone when the grammar has no line for it). */
  where: string;
  /** The setting as the config spells it, e.g. `redirector = iptables`. */
  setting: string;
  /** What the addon does for it, e.g. `SO_ORIGINAL_DST`. */
  why: string;
  /** Which of the addon's two files it needs (default 'native'). */
  module?: 'native' | 'splice';
  /** A config change that avoids the need, when there is one. */
  instead?: string;
}

/** The package directory, where a rebuild runs. */
export const PACKAGE_DIR = path.resolve(__dirname, '..');

/** How to get a working addon, for error messages and the install script. */
export function addonFix(dir = PACKAGE_DIR): string {
  return [
    `the npm tarballs carry prebuilt addons for linux-x64 and linux-arm64 (glibc); on another platform, or if they fail to load, build it:`,
    `  apt-get install python3 make g++ libcrypt-dev && cd ${dir} && npm run build`,
  ].join('\n');
}

/** null when the loaded addon covers every need; else an EMPTCP_ADDON_REQUIRED error naming each unmet setting. */
export function unmetAddonNeeds(needs: readonly AddonNeed[]): MptcpNativeError | null {
  if (needs.length === 0) return null;
  const native = addonStatus();
  const splice = needs.some((n) => n.module === 'splice') ? spliceStatus() : { loaded: true };
  const unmet = needs.filter((n) => !(n.module === 'splice' ? splice.loaded : native.loaded));
  if (unmet.length === 0) return null;
  const lines = ['this configuration needs the mptcp-native addon:'];
  for (const n of unmet) lines.push(`  ${n.where}: ${n.setting} (${n.why})${n.instead ? `; or set ${n.instead}` : ''}`);
  if (unmet.some((n) => n.module !== 'splice')) lines.push(`${ADDON_FILE} is not loaded: ${native.reason}`);
  else lines.push(`${SPLICE_ADDON_FILE} is not loaded: ${splice.reason}`);
  lines.push(`To fix: ${addonFix()}`);
  return new MptcpNativeError({ code: ErrorCodes.ADDON_REQUIRED }, lines.join('\n'));
}
