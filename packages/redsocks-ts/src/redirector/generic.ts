/** `redirector = generic`: getsockname() of the accepted socket (TPROXY keeps the original dst there). */
import { ProxyError } from '@mptcp-proxy/common';
import { plainAddress, type Redirector } from './redirector';

export const genericRedirector: Redirector = {
  name: 'generic',
  transparent: true,
  originalDst(socket) {
    if (socket.localAddress === undefined || socket.localPort === undefined) {
      throw new ProxyError('EGETSOCKNAME', 'getsockname: socket has no local address');
    }
    return { address: plainAddress(socket.localAddress), port: socket.localPort };
  },
};
