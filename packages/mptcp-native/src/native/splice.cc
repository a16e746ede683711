// spliceRelay(fdA, fdB, pipeSize, cb): moves bytes A<->B in the kernel with splice(2) through two
// pipes, on the main loop. Each fd is dup'd so libuv's own watcher on the original is untouched.
// Everything (polls, dup fds, pipes) is released before cb(err, aToB, bToA, firstDone) runs.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "errors.h"
#include "splice.h"
#include "splice-pump.h"

namespace {

struct SpliceRelay {
  uint32_t id;
  napi_env env;
  uv_poll_t pollA, pollB;
  RelayFds io;
  int err = 0;
  const char *syscall = "splice";
  char errSide = 0;  // 'a' or 'b': the socket whose syscall failed
  const char *firstDone = nullptr;  // the direction whose EOF was passed on first
  bool finished = false;
  int openHandles = 0;
  int eventsA = 0, eventsB = 0;
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx = nullptr;
};

std::unordered_map<uint32_t, SpliceRelay *> &Live() {
  static std::unordered_map<uint32_t, SpliceRelay *> live;
  return live;
}
uint32_t nextId = 1;

void Deliver(SpliceRelay *r) {
  CallRelayCallback(Napi::Env(r->env), r->cb, *r->ctx, r->err, r->syscall, r->errSide, r->io.ab.bytes, r->io.ba.bytes, r->firstDone);
  delete r->ctx;
  delete r;
}

void OnClosed(uv_handle_t *h) {
  auto *r = static_cast<SpliceRelay *>(h->data);
  if (--r->openHandles == 0) Deliver(r);
}

void Finish(SpliceRelay *r, int err, const char *syscall) {
  if (r->finished) return;
  r->finished = true;
  r->err = err;
  if (syscall) r->syscall = syscall;
  Live().erase(r->id);
  // uv_poll_stop removes the dup'd fds from epoll, so closing them now is safe.
  uv_poll_stop(&r->pollA);
  uv_poll_stop(&r->pollB);
  r->io.Close();
  uv_close(reinterpret_cast<uv_handle_t *>(&r->pollA), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t *>(&r->pollB), OnClosed);
}

void OnPoll(uv_poll_t *p, int status, int events);

// Pumps the directions a poll event concerns (`ab`, `ba`); the other one's wants still hold.
void Step(SpliceRelay *r, bool ab = true, bool ba = true) {
  const char *syscall = "splice";
  int failFd = -1;
  int e = ab ? Pump(&r->io.ab, &syscall, &failFd, true) : 0;
  if (!e && ba) e = Pump(&r->io.ba, &syscall, &failFd, true);
  if (!r->firstDone && (r->io.ab.done || r->io.ba.done)) r->firstDone = r->io.ab.done ? "aToB" : "bToA";
  if (e) {
    r->errSide = failFd == r->io.fdA ? 'a' : 'b';
    return Finish(r, e, syscall);
  }
  if (r->io.ab.done && r->io.ba.done) return Finish(r, 0, nullptr);
  int evA = (r->io.ab.wantRead ? UV_READABLE : 0) | (r->io.ba.wantWrite ? UV_WRITABLE : 0);
  int evB = (r->io.ba.wantRead ? UV_READABLE : 0) | (r->io.ab.wantWrite ? UV_WRITABLE : 0);
  // A stopped poll (after POLLERR) must be restarted even when the mask is unchanged.
  if (evA != r->eventsA || !uv_is_active(reinterpret_cast<uv_handle_t *>(&r->pollA))) {
    r->eventsA = evA;
    if (evA) uv_poll_start(&r->pollA, evA, OnPoll);
    else uv_poll_stop(&r->pollA);
  }
  if (evB != r->eventsB || !uv_is_active(reinterpret_cast<uv_handle_t *>(&r->pollB))) {
    r->eventsB = evB;
    if (evB) uv_poll_start(&r->pollB, evB, OnPoll);
    else uv_poll_stop(&r->pollB);
  }
}

void OnPoll(uv_poll_t *p, int status, int events) {
  auto *r = static_cast<SpliceRelay *>(p->data);
  if (r->finished) return;
  if (status < 0) {
    // libuv turns POLLERR into UV_EBADF and stops the handle; the real reason is SO_ERROR.
    int fd = p == &r->pollA ? r->io.fdA : r->io.fdB;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
    if (soerr) {
      r->errSide = p == &r->pollA ? 'a' : 'b';
      return Finish(r, soerr, "splice");
    }
    return Step(r);
  }
  // A's readable feeds a->b, A's writable drains b->a; B's the other way round.
  bool readable = (events & UV_READABLE) != 0, writable = (events & UV_WRITABLE) != 0;
  if (!readable && !writable) return Step(r);  // nothing asked for: look at both
  bool isA = p == &r->pollA;
  Step(r, isA ? readable : writable, isA ? writable : readable);
}


SpliceRelay *FromData(const Napi::CallbackInfo &info) {
  auto id = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(info.Data()));
  auto it = Live().find(id);
  return it == Live().end() ? nullptr : it->second;
}

Napi::Value Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  SpliceRelay *r = FromData(info);
  if (!r) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("aToB", Napi::Number::New(env, static_cast<double>(r->io.ab.bytes)));
  o.Set("bToA", Napi::Number::New(env, static_cast<double>(r->io.ba.bytes)));
  o.Set("aToBDone", Napi::Boolean::New(env, r->io.ab.done));
  o.Set("bToADone", Napi::Boolean::New(env, r->io.ba.done));
  o.Set("aToBPipe", Napi::Number::New(env, static_cast<double>(r->io.ab.cap)));
  o.Set("bToAPipe", Napi::Number::New(env, static_cast<double>(r->io.ba.cap)));
  return o;
}

Napi::Value Shutdown(const Napi::CallbackInfo &info) {
  SpliceRelay *r = FromData(info);
  if (r) Finish(r, 0, nullptr);
  return info.Env().Undefined();
}

}  // namespace

Napi::Value SpliceRelayStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[3].IsFunction())
    return ThrowType(env, "spliceRelay(fdA, fdB, pipeSize, cb)");
  int a = info[0].As<Napi::Number>().Int32Value();
  int b = info[1].As<Napi::Number>().Int32Value();
  int pipeSize = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return ThrowType(env, "spliceRelay: no event loop");

  auto *r = new SpliceRelay();
  r->env = env;
  const char *syscall;
  int e = r->io.Open(a, b, pipeSize, &syscall);
  if (!e) {
    syscall = "uv_poll_init";
    int u = uv_poll_init(loop, &r->pollA, r->io.fdA);
    if (u == 0) {
      r->openHandles++;
      u = uv_poll_init(loop, &r->pollB, r->io.fdB);
      if (u == 0) r->openHandles++;
      else {
        uv_close(reinterpret_cast<uv_handle_t *>(&r->pollA), [](uv_handle_t *h) {
          delete static_cast<SpliceRelay *>(h->data);
        });
      }
    }
    r->pollA.data = r;
    r->pollB.data = r;
    if (u < 0) {
      r->io.Close();
      if (r->openHandles == 0) delete r;
      return ThrowErrno(env, -u, syscall);
    }
  }
  if (e) {
    delete r;
    return ThrowErrno(env, e, syscall);
  }
  r->id = nextId++;
  if (nextId == 0) nextId = 1;
  Live()[r->id] = r;
  r->cb = Napi::Persistent(info[3].As<Napi::Function>());
  r->ctx = new Napi::AsyncContext(env, "MptcpSpliceRelay");

  Napi::Object handle = Napi::Object::New(env);
  void *data = reinterpret_cast<void *>(static_cast<uintptr_t>(r->id));
  handle.Set("stats", Napi::Function::New(env, Stats, "stats", data));
  handle.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown", data));
  // First pass on the next loop iteration would also do; pumping now saves one poll round trip.
  Step(r);
  return handle;
}

void CallRelayCallback(Napi::Env env, Napi::FunctionReference &cb, Napi::AsyncContext &ctx, int err,
                       const char *syscall, char side, uint64_t aToB, uint64_t bToA, const char *firstDone) {
  Napi::HandleScope scope(env);
  Napi::Value e = env.Null();
  if (err) {
    Napi::Error x = ErrnoError(env, err, syscall);
    if (side) x.Set("side", Napi::String::New(env, std::string(1, side)));
    e = x.Value();
  }
  cb.MakeCallback(env.Global(),
                  {e, Napi::Number::New(env, static_cast<double>(aToB)), Napi::Number::New(env, static_cast<double>(bToA)),
                   firstDone ? Napi::Value(Napi::String::New(env, firstDone)) : env.Null()},
                  ctx);
  if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
}
