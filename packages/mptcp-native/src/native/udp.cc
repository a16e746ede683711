// UDP sockets Node's dgram cannot make: a TPROXY listener (IP_TRANSPARENT + IP_RECVORIGDSTADDR,
// whose recvmsg tells each datagram's original destination), a sender bound to a non-local
// address (IP_TRANSPARENT), a socket on a WAN path's device/mark. Syscalls only: the TS layer
// (udp.ts) sets the options, decides what to do with each datagram and owns the fd.
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <map>

#include "addr.h"
#include "errors.h"
#include "functions.h"

#ifndef IP_ORIGDSTADDR
#define IP_ORIGDSTADDR 20
#endif
#ifndef IPV6_ORIGDSTADDR
#define IPV6_ORIGDSTADDR 74
#endif

// dgramSocket(family 4|6) -> fd, non-blocking and close-on-exec.
Napi::Value DgramSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "dgramSocket(family)");
  int family = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  return Napi::Number::New(env, fd);
}

// recvFrom(fd, buf) -> { length, from, to } | null when nothing is queued (EAGAIN).
// `to` is the original destination (IP_ORIGDSTADDR / IPV6_ORIGDSTADDR) when the socket asked
// for it, else null. A datagram longer than buf is cut (length = what fits, truncated: true).
Napi::Value RecvFrom(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) return ThrowType(env, "recvFrom(fd, buf)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  sockaddr_storage from;
  memset(&from, 0, sizeof from);
  union {
    cmsghdr align;
    char raw[CMSG_SPACE(sizeof(sockaddr_in6)) * 2];
  } control;
  iovec iov = {buf.Data(), buf.Length()};
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.raw;
  msg.msg_controllen = sizeof control.raw;
  ssize_t n;
  do n = recvmsg(fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return ThrowErrno(env, errno, "recvmsg");
  }
  sockaddr_storage to;
  bool haveTo = false;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR && c->cmsg_len >= CMSG_LEN(sizeof(sockaddr_in))) {
      memset(&to, 0, sizeof to);
      memcpy(&to, CMSG_DATA(c), sizeof(sockaddr_in));
      haveTo = true;
    } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
               c->cmsg_len >= CMSG_LEN(sizeof(sockaddr_in6))) {
      memset(&to, 0, sizeof to);
      memcpy(&to, CMSG_DATA(c), sizeof(sockaddr_in6));
      haveTo = true;
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("length", Napi::Number::New(env, static_cast<double>(n)));
  o.Set("truncated", Napi::Boolean::New(env, (msg.msg_flags & MSG_TRUNC) != 0));
  o.Set("from", SockaddrToJs(env, &from));
  o.Set("to", haveTo ? SockaddrToJs(env, &to) : env.Null());
  return o;
}

// sendTo(fd, buf, length, address, port) -> bytes sent; EAGAIN etc. are thrown (UDP drops).
Napi::Value SendTo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[1].IsBuffer() || !info[3].IsString())
    return ThrowType(env, "sendTo(fd, buf, length, address, port)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  size_t length = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  if (length > buf.Length()) return ThrowType(env, "sendTo: length exceeds the buffer");
  sockaddr_storage ss;
  socklen_t len;
  if (!ParseIp(info[3].As<Napi::String>().Utf8Value(), info[4].As<Napi::Number>().Int32Value(), &ss, &len))
    return ThrowType(env, "sendTo: address must be an IP literal");
  ssize_t n;
  do n = sendto(fd, buf.Data(), length, 0, reinterpret_cast<sockaddr *>(&ss), len);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "sendto");
  return Napi::Number::New(env, static_cast<double>(n));
}

namespace {

// One readable-watch on the main loop. The JS callback drains the socket with recvFrom.
struct Watch {
  uv_poll_t poll;
  napi_env env;
  int id;
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx = nullptr;
};

std::map<int, Watch *> watches;
int nextWatchId = 1;

void OnWatchClosed(uv_handle_t *h) {
  auto *w = static_cast<Watch *>(h->data);
  delete w->ctx;
  delete w;
}

void OnReadable(uv_poll_t *p, int status, int events) {
  auto *w = static_cast<Watch *>(p->data);
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  // libuv reports POLLERR as a negative status; recvFrom then surfaces the socket's error.
  Napi::Value arg = status < 0 ? Napi::Value(ErrnoError(env, -status, "uv_poll").Value()) : env.Null();
  w->cb.MakeCallback(env.Global(), {arg}, *w->ctx);
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace

// watchReadable(fd, cb(err|null), ref) -> watch id. cb runs on the main loop whenever fd is
// readable; ref = false lets the process exit while the watch is active.
Napi::Value WatchReadable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsFunction()) return ThrowType(env, "watchReadable(fd, cb, ref)");
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return ThrowType(env, "watchReadable: no event loop");
  auto *w = new Watch();
  w->env = env;
  w->id = nextWatchId++;
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  w->ctx = new Napi::AsyncContext(env, "MptcpUdpWatch");
  int e = uv_poll_init(loop, &w->poll, info[0].As<Napi::Number>().Int32Value());
  if (e < 0) {
    delete w->ctx;
    delete w;
    return ThrowErrno(env, -e, "uv_poll_init");
  }
  w->poll.data = w;
  if (!info[2].ToBoolean().Value()) uv_unref(reinterpret_cast<uv_handle_t *>(&w->poll));
  uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  watches[w->id] = w;
  return Napi::Number::New(env, w->id);
}

// unwatch(id): stops the watch at once (the fd may be closed right after); unknown ids are ignored.
Napi::Value Unwatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "unwatch(id)");
  auto it = watches.find(info[0].As<Napi::Number>().Int32Value());
  if (it == watches.end()) return env.Undefined();
  Watch *w = it->second;
  watches.erase(it);
  // uv_poll_stop removes the fd from epoll, so closing it afterwards is safe.
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnWatchClosed);
  return env.Undefined();
}
