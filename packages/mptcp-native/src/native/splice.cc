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

namespace {

constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr int kMaxRounds = 16;  // fairness: yield to the loop after this many rounds

struct Dir {
  int from = -1, to = -1;
  int pipe[2] = {-1, -1};
  size_t cap = 65536;
  size_t growTo = 0;  // F_SETPIPE_SZ target, applied the first time the pipe fills
  size_t inPipe = 0;
  uint64_t bytes = 0;
  bool eof = false;       // source returned EOF
  bool pipeFull = false;  // splice into the pipe said EAGAIN while it held bytes
  bool wantRead = false, wantWrite = false;
  bool done = false;      // EOF passed on as shutdown(to, SHUT_WR)
};

struct SpliceRelay {
  uint32_t id;
  napi_env env;
  uv_poll_t pollA, pollB;
  int fdA = -1, fdB = -1;
  Dir ab, ba;
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

void CloseFd(int &fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void ReleaseFds(SpliceRelay *r) {
  CloseFd(r->fdA);
  CloseFd(r->fdB);
  for (Dir *d : {&r->ab, &r->ba}) {
    CloseFd(d->pipe[0]);
    CloseFd(d->pipe[1]);
  }
}

void Deliver(SpliceRelay *r) {
  Napi::Env env(r->env);
  {
    Napi::HandleScope scope(env);
    Napi::Value e = env.Null();
    if (r->err) {
      Napi::Error err = ErrnoError(env, r->err, r->syscall);
      if (r->errSide) err.Set("side", Napi::String::New(env, std::string(1, r->errSide)));
      e = err.Value();
    }
    r->cb.MakeCallback(env.Global(),
                       {e, Napi::Number::New(env, static_cast<double>(r->ab.bytes)),
                        Napi::Number::New(env, static_cast<double>(r->ba.bytes)),
                        r->firstDone ? Napi::Value(Napi::String::New(env, r->firstDone)) : env.Null()},
                       *r->ctx);
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }
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
  ReleaseFds(r);
  uv_close(reinterpret_cast<uv_handle_t *>(&r->pollA), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t *>(&r->pollB), OnClosed);
}

// Grows a full pipe to its requested size once (best effort: pipe-max-size, pipe-user-pages-*).
// Short connections never fill their pipes, so they never pay for the big ring.
bool Grow(Dir *d) {
  if (d->growTo <= d->cap) return false;
  size_t want = d->growTo;
  d->growTo = 0;
  if (fcntl(d->pipe[1], F_SETPIPE_SZ, static_cast<int>(want)) < 0) return false;
  int cap = fcntl(d->pipe[1], F_GETPIPE_SZ);
  if (cap <= 0 || static_cast<size_t>(cap) <= d->cap) return false;
  d->cap = static_cast<size_t>(cap);
  d->pipeFull = false;
  return true;
}

// Moves what it can in one direction; returns an errno (0 = fine) and sets *syscall.
int Pump(Dir *d, const char **syscall, int *failFd) {
  for (int round = 0; round < kMaxRounds; round++) {
    bool progress = false;
    if ((d->pipeFull || d->inPipe >= d->cap) && Grow(d)) progress = true;
    if (!d->eof && !d->pipeFull && d->inPipe < d->cap) {
      ssize_t n = splice(d->from, nullptr, d->pipe[1], nullptr, d->cap - d->inPipe, kFlags);
      if (n > 0) {
        d->inPipe += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        d->eof = true;
      } else if (errno == EAGAIN) {
        // Ambiguous: empty socket or full pipe (pipe slots hold partial pages). Only the latter
        // is possible while the pipe holds bytes; retry the read once some have left.
        if (d->inPipe > 0) d->pipeFull = true;
      } else if (errno != EINTR) {
        *syscall = "splice";
        *failFd = d->from;
        return errno;
      }
    }
    if (d->inPipe > 0) {
      ssize_t n = splice(d->pipe[0], nullptr, d->to, nullptr, d->inPipe, kFlags);
      if (n > 0) {
        d->inPipe -= static_cast<size_t>(n);
        d->bytes += static_cast<uint64_t>(n);
        d->pipeFull = false;
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        *syscall = "splice";
        *failFd = d->to;
        return errno;
      }
    }
    if (!progress) break;
  }
  if (d->eof && d->inPipe == 0 && !d->done) {
    d->done = true;
    if (shutdown(d->to, SHUT_WR) < 0 && errno != ENOTCONN) {
      *syscall = "shutdown";
      *failFd = d->to;
      return errno;
    }
  }
  // Keep the level-triggered poll armed for what this direction waits on.
  d->wantRead = !d->eof && !d->pipeFull && d->inPipe < d->cap;
  d->wantWrite = d->inPipe > 0;
  return 0;
}

void OnPoll(uv_poll_t *p, int status, int events);

void Step(SpliceRelay *r) {
  const char *syscall = "splice";
  int failFd = -1;
  int e = Pump(&r->ab, &syscall, &failFd);
  if (!e) e = Pump(&r->ba, &syscall, &failFd);
  if (!r->firstDone && (r->ab.done || r->ba.done)) r->firstDone = r->ab.done ? "aToB" : "bToA";
  if (e) {
    r->errSide = failFd == r->fdA ? 'a' : 'b';
    return Finish(r, e, syscall);
  }
  if (r->ab.done && r->ba.done) return Finish(r, 0, nullptr);
  int evA = (r->ab.wantRead ? UV_READABLE : 0) | (r->ba.wantWrite ? UV_WRITABLE : 0);
  int evB = (r->ba.wantRead ? UV_READABLE : 0) | (r->ab.wantWrite ? UV_WRITABLE : 0);
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
    int fd = p == &r->pollA ? r->fdA : r->fdB;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
    if (soerr) {
      r->errSide = p == &r->pollA ? 'a' : 'b';
      return Finish(r, soerr, "splice");
    }
  }
  Step(r);
}

int MakePipe(Dir *d, int size) {
  if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  int cap = fcntl(d->pipe[1], F_GETPIPE_SZ);
  if (cap > 0) d->cap = static_cast<size_t>(cap);
  if (size > 0) d->growTo = static_cast<size_t>(size);
  return 0;
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
  o.Set("aToB", Napi::Number::New(env, static_cast<double>(r->ab.bytes)));
  o.Set("bToA", Napi::Number::New(env, static_cast<double>(r->ba.bytes)));
  o.Set("aToBDone", Napi::Boolean::New(env, r->ab.done));
  o.Set("bToADone", Napi::Boolean::New(env, r->ba.done));
  o.Set("aToBPipe", Napi::Number::New(env, static_cast<double>(r->ab.cap)));
  o.Set("bToAPipe", Napi::Number::New(env, static_cast<double>(r->ba.cap)));
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
  int e = 0;
  const char *syscall = "dup";
  r->fdA = fcntl(a, F_DUPFD_CLOEXEC, 0);
  if (r->fdA < 0) e = errno;
  if (!e && (r->fdB = fcntl(b, F_DUPFD_CLOEXEC, 0)) < 0) e = errno;
  if (!e) {
    syscall = "pipe";
    e = MakePipe(&r->ab, pipeSize);
    if (!e) e = MakePipe(&r->ba, pipeSize);
  }
  if (!e) {
    syscall = "uv_poll_init";
    int u = uv_poll_init(loop, &r->pollA, r->fdA);
    if (u == 0) {
      r->openHandles++;
      u = uv_poll_init(loop, &r->pollB, r->fdB);
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
      ReleaseFds(r);
      if (r->openHandles == 0) delete r;
      return ThrowErrno(env, -u, syscall);
    }
  }
  if (e) {
    ReleaseFds(r);
    delete r;
    return ThrowErrno(env, e, syscall);
  }
  r->ab.from = r->fdA;
  r->ab.to = r->fdB;
  r->ba.from = r->fdB;
  r->ba.to = r->fdA;
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
