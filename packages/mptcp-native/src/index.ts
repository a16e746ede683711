/**
 * mptcp-native: real MPTCP sockets for Node (listen, connect, TFO), MPTCP_INFO and subflows,
 * SO_ORIGINAL_DST, a syslog sender and crypt(3). Without the addon everything degrades to
 * plain `net` with one warning, and mptcp: 'on' fails saying why.
 */
export type { MptcpMode } from './open-socket';
export { listen } from './listen';
export type { ListenOptions } from './listen';
export { connect } from './connect';
export type { ConnectOptions } from './connect';
export { originalDst, localAddressOf } from './original-dst';
export type { SocketAddress } from './original-dst';
export { mptcpInfo, subflows, isMptcp, tcpInfo, socketProtocol } from './info';
export type { MptcpInfo, SubflowInfo } from './info';
export { addonStatus } from './native';
export { openSyslog, formatSyslog, syslogTimestamp, FACILITIES, SEVERITIES } from './syslog';
export type { SyslogSender, Severity } from './syslog';
export { verifySystemPassword, cryptHash, cryptGensalt, verifyPassword, verifySystemPasswordAsync } from './crypt';
export { CAP, setKeepCaps, setCapabilities, processCredentials } from './privileges';
export type { ProcessCredentials } from './privileges';
export { MptcpNativeError, ErrorCodes } from './errors';
export { fdOf } from './socket-fd';
export { setTcpKeepalive, getTcpKeepalive } from './keepalive';
export type { TcpKeepalive, TcpKeepaliveState } from './keepalive';
export { candidatePaths, loadNative } from './loader';
export type { LoadResult } from './loader';
export { spliceRelay, spliceStatus, DEFAULT_PIPE_SIZE } from './splice';
export type { SpliceHandle, SpliceStats, SpliceCallback, SpliceError, SpliceOptions } from './splice';
export { unmetAddonNeeds, addonFix } from './addon-needs';
export type { AddonNeed } from './addon-needs';
export { UdpSocket } from './udp';
export type { UdpSocketOptions, UdpMessageInfo } from './udp';
export { NetlinkSocket, NetlinkError } from './netlink';
export * as netlink from './netlink-codec';
