/**
 * The danted.conf settings (and flags) that only work with the mptcp-native addon. `-V` and the
 * start refuse them when the addon is not loaded (mptcp-native's unmetAddonNeeds), so a server
 * never starts and then rejects every correct password.
 */
import type { AddonNeed } from 'mptcp-native';
import type { LoadResult } from './types';

export function dantedAddonNeeds({ config, settingLines }: LoadResult, opts: { workers?: number } = {}): AddonNeed[] {
  const needs: AddonNeed[] = [];
  const at = (setting: string): string => (settingLines[setting] ? `${config.file}:${settingLines[setting]}` : config.file);
  if (config.socksMethod.includes('username')) {
    needs.push({
      where: at('socksmethod'),
      setting: 'socksmethod: username',
      why: config.ext.passwordFile !== undefined ? 'crypt(3) for the hashes of extension.passwordfile' : 'getspnam and crypt(3) for system passwords',
    });
  }
  if (config.ext.mptcp === 'on') {
    needs.push({ where: at('extension.mptcp'), setting: 'extension.mptcp: on', why: 'IPPROTO_MPTCP listeners', instead: 'extension.mptcp: auto (plain TCP)' });
  }
  if (config.ext.mptcpExternal === 'on') {
    needs.push({ where: at('extension.mptcp.external'), setting: 'extension.mptcp.external: on', why: 'IPPROTO_MPTCP connections', instead: 'extension.mptcp.external: auto' });
  }
  if (config.ext.fastOpen > 0) {
    needs.push({ where: at('extension.fastopen'), setting: `extension.fastopen: ${config.ext.fastOpen}`, why: 'TCP_FASTOPEN on the listeners', instead: 'extension.fastopen: 0' });
  }
  for (const key of ['logoutput', 'errorlog'] as const) {
    if (config[key].some((t) => t.kind === 'syslog')) {
      needs.push({ where: at(key), setting: `${key}: syslog`, why: 'the /dev/log datagram socket', instead: `${key}: stderr` });
    }
  }
  if ((opts.workers ?? 1) > 1) {
    needs.push({ where: 'command line', setting: `-N ${opts.workers}`, why: 'SO_REUSEPORT, so the workers share the port', instead: 'one process (no -N)' });
  }
  return needs;
}

