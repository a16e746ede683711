/**
 * The LAN listener: every accepted socket has TCP_NODELAY, read back from the kernel, on both
 * ways of listening (Node's own listen, and mptcp-native's for SO_REUSEPORT / IP_TRANSPARENT).
 * Without it a reply relayed in two small writes waits for the client's delayed ACK.
 */
import * as net from 'node:net';
import { fdOf, loadNative } from 'mptcp-native';
import { boundPort, openListener } from '../../src/net/listener';

const b = loadNative().binding!;
const nodelay = (s: net.Socket): number => b.getsockoptInt(fdOf(s), b.constants.IPPROTO_TCP, b.constants.TCP_NODELAY);

for (const reusePort of [false, true]) {
  test(`every accepted LAN socket has TCP_NODELAY (${reusePort ? 'mptcp-native listen, SO_REUSEPORT' : "Node's listen"})`, async () => {
    let onAccept!: (s: net.Socket) => void;
    const accepted = new Promise<net.Socket>((res) => (onAccept = res));
    const server = await openListener({ host: '127.0.0.1', port: 0, backlog: 16, transparent: false, reusePort }, onAccept);
    const client = net.connect({ host: '127.0.0.1', port: boundPort(server) });
    try {
      const s = await accepted;
      expect(nodelay(s)).toBe(1);
      s.destroy();
    } finally {
      client.destroy();
      server.close();
    }
  });
}
