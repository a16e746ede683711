import { ProxyError } from '@mptcp-proxy/common';
import { genericRedirector } from './generic';
import { iptablesRedirector } from './iptables';
import type { Redirector } from './redirector';

export type { Redirector } from './redirector';
export { iptablesRedirector, genericRedirector };

export function getRedirector(name: string | undefined): Redirector {
  if (name === 'iptables') return iptablesRedirector;
  if (name === 'generic') return genericRedirector;
  if (name === undefined) throw new ProxyError('ENOREDIRECTOR', 'no `redirector` set');
  throw new ProxyError('EREDIRECTOR', `invalid \`redirector\` set <${name}>`);
}
