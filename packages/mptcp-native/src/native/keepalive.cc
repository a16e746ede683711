// TCP keepalive: SO_KEEPALIVE plus the three TCP_KEEP* timers. No policy (ranges, defaults): TS.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "errors.h"
#include "functions.h"

// setTcpKeepalive(fd, enable, idleS, intervalS, probes): a timer of 0 leaves the kernel's value.
// Timers first, so probing never starts on the kernel defaults (2 h idle) in between.
Napi::Value SetTcpKeepalive(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsBoolean() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsNumber())
    return ThrowType(env, "setTcpKeepalive(fd, enable, idleS, intervalS, probes)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int on = info[1].As<Napi::Boolean>().Value() ? 1 : 0;
  const int opts[3] = {TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT};
  for (int i = 0; i < 3; i++) {
    int v = info[2 + i].As<Napi::Number>().Int32Value();
    if (v > 0 && setsockopt(fd, IPPROTO_TCP, opts[i], &v, sizeof v) < 0) return ThrowErrno(env, errno, "setsockopt");
  }
  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0) return ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

// getTcpKeepalive(fd) -> { enabled, idleS, intervalS, probes }
Napi::Value GetTcpKeepalive(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "getTcpKeepalive(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  const struct {
    int level, name;
    const char *key;
  } opts[4] = {{SOL_SOCKET, SO_KEEPALIVE, "enabled"},
               {IPPROTO_TCP, TCP_KEEPIDLE, "idleS"},
               {IPPROTO_TCP, TCP_KEEPINTVL, "intervalS"},
               {IPPROTO_TCP, TCP_KEEPCNT, "probes"}};
  Napi::Object o = Napi::Object::New(env);
  for (const auto &opt : opts) {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, opt.level, opt.name, &v, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
    if (opt.name == SO_KEEPALIVE) o.Set(opt.key, Napi::Boolean::New(env, v != 0));
    else o.Set(opt.key, Napi::Number::New(env, v));
  }
  return o;
}
