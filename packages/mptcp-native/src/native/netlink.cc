// A netlink transport (rtnetlink and generic netlink) for `paths = auto`: Node has no
// AF_NETLINK sockets. Bytes only; every message is encoded and decoded in TypeScript
// (src/netlink-codec.ts); the request/dump logic is in src/netlink.ts.
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "errors.h"
#include "functions.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

// netlinkOpen(protocol, groups[]) -> fd: SOCK_RAW|NONBLOCK|CLOEXEC, bound (kernel-assigned
// port id), each group joined with NETLINK_ADD_MEMBERSHIP, extended ACKs asked for.
Napi::Value NetlinkOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsArray()) return ThrowType(env, "netlinkOpen(protocol, groups)");
  int protocol = info[0].As<Napi::Number>().Int32Value();
  Napi::Array groups = info[1].As<Napi::Array>();
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  sockaddr_nl sa = {};
  sa.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "bind");
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  int rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Value g = groups.Get(i);
    int group = g.IsNumber() ? g.As<Napi::Number>().Int32Value() : 0;
    if (group <= 0 || setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      int e = group <= 0 ? EINVAL : errno;
      close(fd);
      return ThrowErrno(env, e, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
    }
  }
  return Napi::Number::New(env, fd);
}

// netlinkSend(fd, message): one datagram to the kernel (port 0).
Napi::Value NetlinkSend(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) return ThrowType(env, "netlinkSend(fd, message)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do n = sendto(fd, buf.Data(), buf.Length(), 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "sendto");
  return env.Undefined();
}

namespace {

struct Watch {
  uv_poll_t poll;
  napi_env env;
  int fd;
  bool closing = false;
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx = nullptr;
};

void Call(Watch *w, napi_value datagram, int err) {
  Napi::Env env(w->env);
  w->cb.MakeCallback(env.Global(), {datagram, Napi::Number::New(env, err)}, *w->ctx);
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
}

void OnReadable(uv_poll_t *p, int status, int events) {
  auto *w = static_cast<Watch *>(p->data);
  static uint8_t buf[1 << 16];
  Napi::Env env(w->env);
  // Drain what is queued; ENOBUFS (the kernel dropped events) is reported, not hidden.
  for (int i = 0; i < 64 && !w->closing; i++) {
    Napi::HandleScope scope(env);
    ssize_t n = recv(w->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      Call(w, env.Null(), errno);
      if (errno != ENOBUFS) break;
      continue;
    }
    Call(w, Napi::Buffer<uint8_t>::Copy(env, buf, static_cast<size_t>(n)), 0);
  }
}

void OnClosed(uv_handle_t *h) {
  auto *w = static_cast<Watch *>(h->data);
  close(w->fd);
  delete w->ctx;
  delete w;
}

Napi::Value CloseWatch(const Napi::CallbackInfo &info) {
  auto *w = static_cast<Watch *>(info.Data());
  if (w && !w->closing) {
    w->closing = true;
    uv_poll_stop(&w->poll);
    uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
  }
  return info.Env().Undefined();
}

}  // namespace

// netlinkWatch(fd, cb(datagram|null, errno)) -> { close() }: every datagram read from fd, on
// the main loop (the watch does not keep the loop alive). close() stops it and closes the fd.
Napi::Value NetlinkWatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) return ThrowType(env, "netlinkWatch(fd, cb)");
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return ThrowType(env, "netlinkWatch: no event loop");
  auto *w = new Watch();
  w->env = env;
  w->fd = info[0].As<Napi::Number>().Int32Value();
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  w->ctx = new Napi::AsyncContext(env, "MptcpNetlink");
  int e = uv_poll_init(loop, &w->poll, w->fd);
  if (e < 0) {
    delete w->ctx;
    delete w;
    return ThrowErrno(env, -e, "uv_poll_init");
  }
  w->poll.data = w;
  uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  // Like an unref'd timer: watching the kernel alone does not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t *>(&w->poll));
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, CloseWatch, "close", w));
  return handle;
}
