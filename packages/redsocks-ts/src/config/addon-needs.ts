/**
 * The redsocks.conf settings that only work with the mptcp-native addon. `redsocks-ts -t` and
 * the start refuse them when the addon is not loaded (mptcp-native's unmetAddonNeeds), so a
 * gateway never starts and then fails every LAN connection.
 */
import type { AddonNeed } from 'mptcp-native';
import { keyLineOf } from './load';
import type { LoadResult } from './types';

export function redsocksAddonNeeds({ config, keyLines }: LoadResult): AddonNeed[] {
  const needs: AddonNeed[] = [];
  const at = (sectionLine: number, key: string): string => `${config.file}:${keyLineOf(keyLines, sectionLine, key) ?? sectionLine}`;
  const { base } = config;
  if (base.present && base.redirector === 'iptables') {
    needs.push({ where: at(base.line, 'redirector'), setting: 'redirector = iptables', why: 'SO_ORIGINAL_DST of each redirected connection' });
  }
  if (base.present && base.redirector === 'generic') {
    needs.push({ where: at(base.line, 'redirector'), setting: 'redirector = generic', why: 'IP_TRANSPARENT on the TPROXY listener' });
  }
  if (base.present && base.log.startsWith('syslog')) {
    needs.push({ where: at(base.line, 'log'), setting: `log = "${base.log}"`, why: 'the /dev/log datagram socket', instead: 'log = stderr' });
  }
  for (const r of config.redsocks) {
    if (r.mptcp === 'on') {
      needs.push({ where: at(r.line, 'mptcp'), setting: 'mptcp = on', why: 'IPPROTO_MPTCP sockets', instead: 'mptcp = auto (plain TCP)' });
    }
    if (r.fastopen) {
      needs.push({ where: at(r.line, 'fastopen'), setting: 'fastopen = on', why: 'TCP_FASTOPEN_CONNECT', instead: 'fastopen = off' });
    }
    const bound = r.paths.filter((p) => p.device !== undefined || p.mark !== undefined);
    if (bound.length > 0) {
      needs.push({ where: at(r.line, 'paths'), setting: `paths (${bound.map((p) => p.name).join(', ')})`, why: 'SO_BINDTODEVICE and SO_MARK' });
    }
    if (r.splice) {
      const set = keyLineOf(keyLines, r.line, 'splice') !== undefined;
      needs.push({ where: at(r.line, 'splice'), setting: set ? 'splice = on' : 'splice = on (the default)', why: 'splice(2)', module: 'splice', instead: 'splice = off' });
    }
  }
  return needs;
}

