// Non-blocking connect on the main loop: uv_poll for writability + uv_timer for the timeout.
// Both handles are fully closed before the callback runs, so JS can adopt the fd
// (libuv refuses an fd that still has a watcher registered).
#include <errno.h>
#include <sys/socket.h>
#include <uv.h>

#include "addr.h"
#include "errors.h"
#include "functions.h"

namespace {

struct ConnectReq {
  uv_poll_t poll;
  uv_timer_t timer;
  napi_env env;
  int fd;
  int err = 0;
  int open_handles = 0;
  bool done = false;
  bool timer_started = false;
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx = nullptr;
};

void Deliver(ConnectReq *req) {
  Napi::Env env(req->env);
  {
    Napi::HandleScope scope(env);
    Napi::Value arg = req->err ? Napi::Value(ErrnoError(env, req->err, "connect").Value()) : env.Null();
    req->cb.MakeCallback(env.Global(), {arg}, *req->ctx);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }
  delete req->ctx;
  delete req;
}

void OnClosed(uv_handle_t *h) {
  auto *req = static_cast<ConnectReq *>(h->data);
  if (--req->open_handles == 0) Deliver(req);
}

void Finish(ConnectReq *req, int err) {
  if (req->done) return;
  req->done = true;
  req->err = err;
  uv_poll_stop(&req->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&req->poll), OnClosed);
  uv_timer_stop(&req->timer);
  uv_close(reinterpret_cast<uv_handle_t *>(&req->timer), OnClosed);
}

void OnWritable(uv_poll_t *p, int status, int events) {
  auto *req = static_cast<ConnectReq *>(p->data);
  // libuv reports POLLERR as UV_EBADF; the real reason is in SO_ERROR.
  int soerr = 0;
  socklen_t len = sizeof soerr;
  if (getsockopt(req->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
  if (soerr == 0 && status < 0) soerr = -status;
  Finish(req, soerr);
}

void OnTimeout(uv_timer_t *t) { Finish(static_cast<ConnectReq *>(t->data), ETIMEDOUT); }

}  // namespace

// connect(fd, address, port, timeoutMs, waitWritable, cb(err|null)).
// With waitWritable=false (TCP_FASTOPEN_CONNECT) a 0 return means "done" and cb runs at once.
Napi::Value Connect(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[1].IsString() || !info[5].IsFunction())
    return ThrowType(env, "connect(fd, address, port, timeoutMs, waitWritable, cb)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  int64_t timeout = info[3].As<Napi::Number>().Int64Value();
  bool wait = info[4].ToBoolean().Value();
  Napi::Function cb = info[5].As<Napi::Function>();
  sockaddr_storage ss;
  socklen_t len;
  if (!ParseIp(info[1].As<Napi::String>().Utf8Value(), port, &ss, &len))
    return ThrowType(env, "connect: address must be an IP literal");

  int rc;
  do rc = connect(fd, reinterpret_cast<sockaddr *>(&ss), len);
  while (rc < 0 && errno == EINTR);
  if (rc == 0 || (rc < 0 && errno != EINPROGRESS) || !wait) {
    Napi::Value arg = rc == 0 || errno == EINPROGRESS ? env.Null() : Napi::Value(ErrnoError(env, errno, "connect").Value());
    cb.Call({arg});
    return env.Undefined();
  }

  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return ThrowType(env, "connect: no event loop");
  auto *req = new ConnectReq();
  req->env = env;
  req->fd = fd;
  req->cb = Napi::Persistent(cb);
  req->ctx = new Napi::AsyncContext(env, "MptcpConnect");
  int e = uv_poll_init(loop, &req->poll, fd);
  if (e < 0) {
    delete req->ctx;
    delete req;
    return ThrowErrno(env, -e, "uv_poll_init");
  }
  req->poll.data = req;
  req->open_handles++;
  uv_timer_init(loop, &req->timer);
  req->timer.data = req;
  req->open_handles++;
  uv_poll_start(&req->poll, UV_WRITABLE, OnWritable);
  if (timeout > 0) uv_timer_start(&req->timer, OnTimeout, static_cast<uint64_t>(timeout), 0);
  return env.Undefined();
}
