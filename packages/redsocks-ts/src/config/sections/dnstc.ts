import type { KeyParser, SectionSpec } from '../section-spec';
import { listenKeys } from './shared-keys';
import type { DnstcSection } from '../types';

const keys = new Map<string, KeyParser<DnstcSection>>([
  ...listenKeys,
]);

export const dnstcSection: SectionSpec<DnstcSection> = {
  name: 'dnstc',
  keys,
  create: (line) => ({ line, localIp: '127.0.0.1', localPort: 0 }),
  commit(t, builder) {
    builder.config.dnstc.push(t);
  },
};
