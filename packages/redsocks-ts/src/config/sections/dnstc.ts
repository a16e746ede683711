import type { KeyParser, SectionSpec } from '../section-spec';
import type { DnstcSection } from '../types';
import { parseInAddr, parseUint16 } from '../values';

const keys = new Map<string, KeyParser<DnstcSection>>([
  ['local_ip', (t, v, ctx) => void (t.localIp = parseInAddr(v, ctx))],
  ['local_port', (t, v) => void (t.localPort = parseUint16(v))],
]);

export const dnstcSection: SectionSpec<DnstcSection> = {
  name: 'dnstc',
  keys,
  create: (line) => ({ line, localIp: '127.0.0.1', localPort: 0 }),
  commit(t, builder) {
    builder.config.dnstc.push(t);
  },
};
