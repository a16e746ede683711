/** `redirector = iptables`: getsockopt(SOL_IP, SO_ORIGINAL_DST) on the accepted plain-TCP socket. */
import { originalDst } from 'mptcp-native';
import { plainAddress, type Redirector } from './redirector';

export const iptablesRedirector: Redirector = {
  name: 'iptables',
  transparent: false,
  originalDst(socket) {
    const d = originalDst(socket);
    return { address: plainAddress(d.address), port: d.port };
  },
};
