// Plain socket syscalls. No policy: the TS layer decides which options to set.
#include <errno.h>
#include <fcntl.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "errors.h"
#include "functions.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80  // linux/netfilter_ipv4.h clashes with netinet/in.h
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static int FdArg(const Napi::CallbackInfo &info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

// socket(family 4|6, protocol) -> fd, non-blocking and close-on-exec.
Napi::Value Socket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowType(env, "socket(family, protocol)");
  int family = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  int proto = info[1].As<Napi::Number>().Int32Value();
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  return Napi::Number::New(env, fd);
}

Napi::Value SetsockoptInt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) return ThrowType(env, "setsockoptInt(fd, level, name, value)");
  int v = info[3].As<Napi::Number>().Int32Value();
  if (setsockopt(FdArg(info, 0), FdArg(info, 1), FdArg(info, 2), &v, sizeof v) < 0)
    return ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) return ThrowType(env, "getsockoptInt(fd, level, name)");
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(FdArg(info, 0), FdArg(info, 1), FdArg(info, 2), &v, &len) < 0)
    return ThrowErrno(env, errno, "getsockopt");
  return Napi::Number::New(env, v);
}

Napi::Value BindToDevice(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsString()) return ThrowType(env, "bindToDevice(fd, name)");
  std::string dev = info[1].As<Napi::String>().Utf8Value();
  if (setsockopt(FdArg(info, 0), SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(), dev.size()) < 0)
    return ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

Napi::Value Bind(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsString()) return ThrowType(env, "bind(fd, address, port)");
  sockaddr_storage ss;
  socklen_t len;
  if (!ParseIp(info[1].As<Napi::String>().Utf8Value(), FdArg(info, 2), &ss, &len))
    return ThrowType(env, "bind: address must be an IP literal");
  if (bind(FdArg(info, 0), reinterpret_cast<sockaddr *>(&ss), len) < 0) return ThrowErrno(env, errno, "bind");
  return env.Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) return ThrowType(env, "listen(fd, backlog)");
  if (listen(FdArg(info, 0), FdArg(info, 1)) < 0) return ThrowErrno(env, errno, "listen");
  return env.Undefined();
}

Napi::Value Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) return ThrowType(env, "close(fd)");
  if (close(FdArg(info, 0)) < 0) return ThrowErrno(env, errno, "close");
  return env.Undefined();
}

Napi::Value Sockname(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getsockname(FdArg(info, 0), reinterpret_cast<sockaddr *>(&ss), &len) < 0)
    return ThrowErrno(env, errno, "getsockname");
  return SockaddrToJs(env, &ss);
}

Napi::Value Peername(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getpeername(FdArg(info, 0), reinterpret_cast<sockaddr *>(&ss), &len) < 0)
    return ThrowErrno(env, errno, "getpeername");
  return SockaddrToJs(env, &ss);
}

// originalDst(fd, family 4|6): SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST (conntrack NAT lookup).
Napi::Value OriginalDst(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) return ThrowType(env, "originalDst(fd, family)");
  int fd = FdArg(info, 0);
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  int rc = info[1].As<Napi::Number>().Int32Value() == 6
               ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len)
               : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc < 0) return ThrowErrno(env, errno, "getsockopt");
  return SockaddrToJs(env, &ss);
}
