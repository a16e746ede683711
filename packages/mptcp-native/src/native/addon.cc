// Module init: the functions of native-binding.ts and the Linux constants the TS layer needs.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "functions.h"
#include "mptcp-uapi.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IP_FREEBIND
#define IP_FREEBIND 15
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IP_RECVORIGDSTADDR
#define IP_RECVORIGDSTADDR 20
#endif
#ifndef IPV6_RECVORIGDSTADDR
#define IPV6_RECVORIGDSTADDR 74
#endif

static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("IPPROTO_TCP", Napi::Number::New(env, static_cast<int>(IPPROTO_TCP)));
  c.Set("IPPROTO_MPTCP", Napi::Number::New(env, static_cast<int>(IPPROTO_MPTCP)));
  c.Set("IPPROTO_IP", Napi::Number::New(env, static_cast<int>(IPPROTO_IP)));
  c.Set("IPPROTO_IPV6", Napi::Number::New(env, static_cast<int>(IPPROTO_IPV6)));
  c.Set("SOL_SOCKET", Napi::Number::New(env, static_cast<int>(SOL_SOCKET)));
  c.Set("SOL_MPTCP", Napi::Number::New(env, static_cast<int>(SOL_MPTCP)));
  c.Set("SO_REUSEADDR", Napi::Number::New(env, static_cast<int>(SO_REUSEADDR)));
  c.Set("SO_REUSEPORT", Napi::Number::New(env, static_cast<int>(SO_REUSEPORT)));
  c.Set("SO_MARK", Napi::Number::New(env, static_cast<int>(SO_MARK)));
  c.Set("SO_PROTOCOL", Napi::Number::New(env, static_cast<int>(SO_PROTOCOL)));
  c.Set("SO_KEEPALIVE", Napi::Number::New(env, static_cast<int>(SO_KEEPALIVE)));
  c.Set("IP_TRANSPARENT", Napi::Number::New(env, static_cast<int>(IP_TRANSPARENT)));
  c.Set("IP_FREEBIND", Napi::Number::New(env, static_cast<int>(IP_FREEBIND)));
  c.Set("IP_BIND_ADDRESS_NO_PORT", Napi::Number::New(env, static_cast<int>(IP_BIND_ADDRESS_NO_PORT)));
  c.Set("IPV6_V6ONLY", Napi::Number::New(env, static_cast<int>(IPV6_V6ONLY)));
  c.Set("IPV6_TRANSPARENT", Napi::Number::New(env, static_cast<int>(IPV6_TRANSPARENT)));
  c.Set("IPV6_FREEBIND", Napi::Number::New(env, static_cast<int>(IPV6_FREEBIND)));
  c.Set("IP_RECVORIGDSTADDR", Napi::Number::New(env, static_cast<int>(IP_RECVORIGDSTADDR)));
  c.Set("IPV6_RECVORIGDSTADDR", Napi::Number::New(env, static_cast<int>(IPV6_RECVORIGDSTADDR)));
  c.Set("SO_RCVBUF", Napi::Number::New(env, static_cast<int>(SO_RCVBUF)));
  c.Set("TCP_NODELAY", Napi::Number::New(env, static_cast<int>(TCP_NODELAY)));
  c.Set("TCP_FASTOPEN", Napi::Number::New(env, static_cast<int>(TCP_FASTOPEN)));
  c.Set("TCP_FASTOPEN_CONNECT", Napi::Number::New(env, static_cast<int>(TCP_FASTOPEN_CONNECT)));
  c.Set("TCPI_OPT_SYN_DATA", Napi::Number::New(env, static_cast<int>(TCPI_OPT_SYN_DATA)));
  c.Set("MPTCP_INFO_FLAG_FALLBACK", Napi::Number::New(env, static_cast<int>(1)));
  c.Set("MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED", Napi::Number::New(env, static_cast<int>(2)));
  return c;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("constants", Constants(env));
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt, "getsockoptInt"));
  exports.Set("bindToDevice", Napi::Function::New(env, BindToDevice, "bindToDevice"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("sockname", Napi::Function::New(env, Sockname, "sockname"));
  exports.Set("peername", Napi::Function::New(env, Peername, "peername"));
  exports.Set("originalDst", Napi::Function::New(env, OriginalDst, "originalDst"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("mptcpInfo", Napi::Function::New(env, MptcpInfo, "mptcpInfo"));
  exports.Set("subflows", Napi::Function::New(env, Subflows, "subflows"));
  exports.Set("tcpInfo", Napi::Function::New(env, TcpInfo, "tcpInfo"));
  exports.Set("unixDgramOpen", Napi::Function::New(env, UnixDgramOpen, "unixDgramOpen"));
  exports.Set("unixDgramSend", Napi::Function::New(env, UnixDgramSend, "unixDgramSend"));
  exports.Set("crypt", Napi::Function::New(env, Crypt, "crypt"));
  exports.Set("systemPasswordHash", Napi::Function::New(env, SystemPasswordHash, "systemPasswordHash"));
  exports.Set("cryptVerify", Napi::Function::New(env, CryptVerify, "cryptVerify"));
  exports.Set("systemVerify", Napi::Function::New(env, SystemVerify, "systemVerify"));
  exports.Set("cryptGensalt", Napi::Function::New(env, CryptGensalt, "cryptGensalt"));
  exports.Set("setKeepCaps", Napi::Function::New(env, SetKeepCaps, "setKeepCaps"));
  exports.Set("setCapabilities", Napi::Function::New(env, SetCapabilities, "setCapabilities"));
  exports.Set("setTcpKeepalive", Napi::Function::New(env, SetTcpKeepalive, "setTcpKeepalive"));
  exports.Set("getTcpKeepalive", Napi::Function::New(env, GetTcpKeepalive, "getTcpKeepalive"));
  exports.Set("dgramSocket", Napi::Function::New(env, DgramSocket, "dgramSocket"));
  exports.Set("recvFrom", Napi::Function::New(env, RecvFrom, "recvFrom"));
  exports.Set("sendTo", Napi::Function::New(env, SendTo, "sendTo"));
  exports.Set("watchReadable", Napi::Function::New(env, WatchReadable, "watchReadable"));
  exports.Set("unwatch", Napi::Function::New(env, Unwatch, "unwatch"));
  exports.Set("netlinkOpen", Napi::Function::New(env, NetlinkOpen, "netlinkOpen"));
  exports.Set("netlinkSend", Napi::Function::New(env, NetlinkSend, "netlinkSend"));
  exports.Set("netlinkWatch", Napi::Function::New(env, NetlinkWatch, "netlinkWatch"));
  return exports;
}

NODE_API_MODULE(mptcp_native, Init)
