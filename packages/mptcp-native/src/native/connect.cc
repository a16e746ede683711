// Non-blocking connect on the main loop. The connecting sockets of an environment wait in one
// epoll set of the addon's own (EPOLLOUT, one-shot), which one uv_poll watches: a connect costs
// one epoll_ctl there, where a uv_poll per socket cost seven syscalls (libuv's fd check, its
// non-blocking switch and its re-arms around start and stop). A uv_timer per connect with a
// timeout. Nothing of the addon watches the fd once the callback runs, so JS can adopt it
// (libuv refuses an fd that still has a watcher registered; the one-shot entry, disarmed, is not
// libuv's and goes with the socket).
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "addr.h"
#include "errors.h"
#include "functions.h"

namespace {

struct ConnectReq {
  uv_timer_t timer;
  napi_env env;
  int fd;
  int err = 0;
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

// The environment's epoll set of connecting sockets and the uv_poll on it (referenced only
// while connects wait, so an idle one never keeps Node alive).
class ConnectWaiter {
 public:
  // 0 or an errno.
  int Start(uv_loop_t *loop) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return errno;
    poll_ = new uv_poll_t;
    int e = uv_poll_init(loop, poll_, ep_);
    if (e < 0) {
      delete poll_;
      poll_ = nullptr;
      return -e;
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnReady);
    uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
    return 0;
  }

  ~ConnectWaiter() {
    // With the environment: the poll handle is closed (and freed) by the loop, then the set.
    if (poll_) uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
    if (ep_ >= 0) close(ep_);
  }

  // 0 or an errno.
  int Add(ConnectReq *req) {
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.ptr = req;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, req->fd, &ev) < 0) return errno;
    if (waiting_++ == 0) uv_ref(reinterpret_cast<uv_handle_t *>(poll_));
    return 0;
  }

  // The connect ended some other way (its timeout): no event for it any more.
  void Remove(ConnectReq *req) { epoll_ctl(ep_, EPOLL_CTL_DEL, req->fd, nullptr); }

  void Done() {
    if (--waiting_ == 0) uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
  }

 private:
  static void OnReady(uv_poll_t *p, int status, int events);
  int ep_ = -1;
  uv_poll_t *poll_ = nullptr;
  int waiting_ = 0;
};

ConnectWaiter *WaiterOf(Napi::Env env, uv_loop_t *loop, int *err) {
  auto *w = env.GetInstanceData<ConnectWaiter>();
  if (w) return w;
  w = new ConnectWaiter();
  *err = w->Start(loop);
  if (*err) {
    delete w;
    return nullptr;
  }
  env.SetInstanceData<ConnectWaiter>(w);
  return w;
}

void OnTimerClosed(uv_handle_t *h) { Deliver(static_cast<ConnectReq *>(h->data)); }

// `fromEvent`: the one-shot entry fired (and is disarmed); else it is removed here.
void Finish(ConnectReq *req, int err, bool fromEvent) {
  if (req->done) return;
  req->done = true;
  req->err = err;
  Napi::Env env(req->env);
  auto *w = env.GetInstanceData<ConnectWaiter>();
  if (!fromEvent) w->Remove(req);
  w->Done();
  if (!req->timer_started) return Deliver(req);
  uv_timer_stop(&req->timer);
  uv_close(reinterpret_cast<uv_handle_t *>(&req->timer), OnTimerClosed);
}

void ConnectWaiter::OnReady(uv_poll_t *p, int status, int events) {
  auto *self = static_cast<ConnectWaiter *>(p->data);
  epoll_event evs[64];
  int n = epoll_wait(self->ep_, evs, 64, 0);
  for (int i = 0; i < n; i++) {
    auto *req = static_cast<ConnectReq *>(evs[i].data.ptr);
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(req->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
    Finish(req, soerr, true);
  }
}

void OnTimeout(uv_timer_t *t) { Finish(static_cast<ConnectReq *>(t->data), ETIMEDOUT, false); }

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
  int e = 0;
  ConnectWaiter *w = WaiterOf(env, loop, &e);
  if (!w) return ThrowErrno(env, e, "epoll_create1");
  auto *req = new ConnectReq();
  req->env = env;
  req->fd = fd;
  if ((e = w->Add(req)) != 0) {
    delete req;
    return ThrowErrno(env, e, "epoll_ctl");
  }
  req->cb = Napi::Persistent(cb);
  req->ctx = new Napi::AsyncContext(env, "MptcpConnect");
  if (timeout > 0) {
    uv_timer_init(loop, &req->timer);
    req->timer.data = req;
    req->timer_started = true;
    uv_timer_start(&req->timer, OnTimeout, static_cast<uint64_t>(timeout), 0);
  }
  return env.Undefined();
}
