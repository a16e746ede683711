/**
 * The lab's UDP echo server (the far end of redudp tests and the ping-pong bench): every
 * datagram goes back to its sender unchanged.   tsx udp-echo.ts HOST PORT
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';

const [host, port] = [process.argv[2]!, Number(process.argv[3])];
const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
sock.on('message', (msg, r) => sock.send(msg, r.port, r.address));
sock.bind(port, host, () => process.stdout.write(`listening ${host}:${port}\n`));
