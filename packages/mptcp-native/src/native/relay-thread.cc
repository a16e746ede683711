// nativeRelay(fdA, fdB, pipeSize, cb): the same splice(2) relay as splice.cc, but on the addon's
// own thread (one per Node environment, epoll, edge-triggered), so the main loop holds no
// watcher for a relayed connection. Both fds are dup'd here: the caller may close its own fds
// (and its net.Sockets) right after the call; the connection then lives on in the dups alone.
// The thread only moves bytes. JS reads the counters (atomics) through stats() and gets one
// event per relay: cb(err, aToB, bToA, firstDone), after every fd of the relay was closed.
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "splice-pump.h"
#include "splice.h"

namespace {

struct ThreadRelay {
  uint32_t id = 0;
  RelayFds io;
  // thread-only until the event is posted, then main-thread only
  int err = 0;
  const char *syscall = "splice";
  char errSide = 0;
  const char *firstDone = nullptr;
  bool finished = false;
  // read by stats() on the main thread
  std::atomic<uint64_t> abBytes{0}, baBytes{0};
  std::atomic<bool> abDone{false}, baDone{false};
  std::atomic<uint32_t> abCap{0}, baCap{0};
  // main thread only
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx = nullptr;
};

class RelayThread {
 public:
  explicit RelayThread(Napi::Env env) : env_(env) {}

  // Starts epoll, the wake-up eventfd, the event function and the thread; errno on failure.
  int Start() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return errno;
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev) < 0) return errno;
    napi_value name;
    napi_create_string_utf8(env_, "MptcpRelayThread", NAPI_AUTO_LENGTH, &name);
    // The thread is joined before the function goes away (its finalizer), never after.
    napi_finalize joinFirst = [](napi_env, void *data, void *) { static_cast<RelayThread *>(data)->Stop(); };
    if (napi_create_threadsafe_function(env_, nullptr, nullptr, name, 0, 1, this, joinFirst, this, CallJs, &tsfn_) != napi_ok)
      return ENOMEM;
    // Referenced only while relays run (Add/Delivered): an idle thread never keeps Node alive.
    napi_unref_threadsafe_function(env_, tsfn_);
    thread_ = std::thread([this] { Loop(); });
    return 0;
  }

  // Main thread: the environment is going away (the event function's finalizer, or delete).
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    Wake();
    thread_.join();
  }

  ~RelayThread() {
    Stop();
    if (wake_ >= 0) close(wake_);
    if (ep_ >= 0) close(ep_);
  }

  // Main thread: hands r (fds and pipes ready) to the thread.
  void Add(ThreadRelay *r) {
    live_[r->id] = r;
    if (live_.size() == 1) napi_ref_threadsafe_function(env_, tsfn_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      adds_.push_back(r);
    }
    Wake();
  }

  // Main thread: asks the thread to finish relay `id` (no-op once it finished).
  void Shutdown(uint32_t id) {
    if (live_.find(id) == live_.end()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stops_.push_back(id);
    }
    Wake();
  }

  ThreadRelay *Find(uint32_t id) {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second;
  }

  PipePool *Pool() { return &pool_; }

  uint32_t NextId() {
    uint32_t id = nextId_++;
    if (nextId_ == 0) nextId_ = 1;
    return id;
  }

 private:
  void Wake() {
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
  }

  static void *Tag(ThreadRelay *r, bool b) { return reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(r) | (b ? 1 : 0)); }

  // ---- the thread ----

  void Loop() {
    std::vector<epoll_event> evs(256);
    std::vector<ThreadRelay *> again;
    for (;;) {
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), again.empty() ? -1 : 0);
      if (n < 0 && errno != EINTR) break;
      std::vector<ThreadRelay *> retry;
      retry.swap(again);
      for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == nullptr) {
          if (Drain()) return Quit();
          continue;
        }
        auto tagged = reinterpret_cast<uintptr_t>(evs[i].data.ptr);
        auto *r = reinterpret_cast<ThreadRelay *>(tagged & ~uintptr_t{1});
        if (r->finished) continue;
        if (evs[i].events & EPOLLERR) {
          // The pending error (a reset) may be on a socket no splice is waiting on now.
          int fd = (tagged & 1) ? r->io.fdB : r->io.fdA;
          int soerr = 0;
          socklen_t len = sizeof soerr;
          if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
          if (soerr) {
            r->errSide = (tagged & 1) ? 'b' : 'a';
            Finish(r, soerr, "splice");
            continue;
          }
        }
        // Edge-triggered events carry the whole ready mask (writable nearly always): a
        // direction is pumped when its source is readable (or hung up), or when its
        // destination is writable and its pipe holds bytes for it.
        bool isB = (tagged & 1) != 0;
        bool in = (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        bool out = (evs[i].events & EPOLLOUT) != 0 && (isB ? r->io.ab : r->io.ba).inPipe > 0;
        // a->b reads A and writes B; b->a the other way round
        Step(r, isB ? out : in, isB ? in : out);
      }
      for (ThreadRelay *r : retry)
        if (!r->finished) Step(r);
      // Events are posted only after the batch: a later event of the batch may still name r.
      for (ThreadRelay *r : done_) napi_call_threadsafe_function(tsfn_, r, napi_tsfn_blocking);
      done_.clear();
      for (ThreadRelay *r : requeue_)
        if (!r->finished) again.push_back(r);
      requeue_.clear();
    }
    Quit();
  }

  // Takes new relays and shutdown requests; true when the environment is going away.
  bool Drain() {
    uint64_t v;
    ssize_t rd = read(wake_, &v, sizeof v);
    (void)rd;
    std::vector<ThreadRelay *> adds;
    std::vector<uint32_t> stops;
    bool quit;
    {
      std::lock_guard<std::mutex> lock(mu_);
      adds.swap(adds_);
      stops.swap(stops_);
      quit = quit_;
    }
    for (ThreadRelay *r : adds) {
      mine_[r->id] = r;
      for (bool b : {false, true}) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = Tag(r, b);
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, b ? r->io.fdB : r->io.fdA, &ev) < 0) {
          r->errSide = b ? 'b' : 'a';
          Finish(r, errno, "epoll_ctl");
          break;
        }
      }
      if (!r->finished) Step(r);
    }
    for (uint32_t id : stops) {
      auto it = mine_.find(id);
      if (it != mine_.end()) Finish(it->second, 0, nullptr);
    }
    return quit;
  }

  // Pumps a->b and/or b->a (the other direction's state still holds).
  void Step(ThreadRelay *r, bool ab = true, bool ba = true) {
    const char *syscall = "splice";
    int failFd = -1;
    int e = ab ? Pump(&r->io.ab, &syscall, &failFd, false) : 0;
    if (!e && ba) e = Pump(&r->io.ba, &syscall, &failFd, false);
    if (!r->firstDone && (r->io.ab.done || r->io.ba.done)) r->firstDone = r->io.ab.done ? "aToB" : "bToA";
    Publish(r);
    if (e) {
      r->errSide = failFd == r->io.fdA ? 'a' : 'b';
      return Finish(r, e, syscall);
    }
    if (r->io.ab.done && r->io.ba.done) return Finish(r, 0, nullptr);
    // Stopped at the fairness cap with bytes still moving: no new edge will come for them.
    if (r->io.ab.capped || r->io.ba.capped) requeue_.push_back(r);
  }

  void Publish(ThreadRelay *r) {
    r->abBytes.store(r->io.ab.bytes, std::memory_order_relaxed);
    r->baBytes.store(r->io.ba.bytes, std::memory_order_relaxed);
    r->abDone.store(r->io.ab.done, std::memory_order_relaxed);
    r->baDone.store(r->io.ba.done, std::memory_order_relaxed);
    r->abCap.store(static_cast<uint32_t>(r->io.ab.cap), std::memory_order_relaxed);
    r->baCap.store(static_cast<uint32_t>(r->io.ba.cap), std::memory_order_relaxed);
  }

  void Finish(ThreadRelay *r, int err, const char *syscall) {
    if (r->finished) return;
    r->finished = true;
    r->err = err;
    if (syscall) r->syscall = syscall;
    Publish(r);
    mine_.erase(r->id);
    // Explicitly: the caller may still hold its own fd of the same socket, which keeps an
    // epoll registration alive past close().
    epoll_ctl(ep_, EPOLL_CTL_DEL, r->io.fdA, nullptr);
    epoll_ctl(ep_, EPOLL_CTL_DEL, r->io.fdB, nullptr);
    r->io.Close(&pool_);
    done_.push_back(r);
  }

  // The environment is going away: close what is left; no events are delivered any more.
  void Quit() {
    for (auto &it : mine_) {
      ThreadRelay *r = it.second;
      r->io.Close();
    }
    mine_.clear();
  }

  // ---- the main thread ----

  static void CallJs(napi_env env, napi_value, void *context, void *data) {
    auto *self = static_cast<RelayThread *>(context);
    auto *r = static_cast<ThreadRelay *>(data);
    if (env == nullptr) return;  // the environment is being torn down
    self->live_.erase(r->id);
    if (self->live_.empty()) napi_unref_threadsafe_function(env, self->tsfn_);
    CallRelayCallback(Napi::Env(env), r->cb, *r->ctx, r->err, r->syscall, r->errSide, r->io.ab.bytes, r->io.ba.bytes, r->firstDone);
    delete r->ctx;
    delete r;
  }

  napi_env env_;
  int ep_ = -1, wake_ = -1;
  // Empty pipes for the next relays: at most 64 (128 fds), held while the process lives.
  PipePool pool_{64};
  std::thread thread_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::mutex mu_;
  std::vector<ThreadRelay *> adds_;  // guarded by mu_
  std::vector<uint32_t> stops_;      // guarded by mu_
  bool quit_ = false;                // guarded by mu_
  // thread only
  std::unordered_map<uint32_t, ThreadRelay *> mine_;
  std::vector<ThreadRelay *> done_, requeue_;
  // main thread only
  std::unordered_map<uint32_t, ThreadRelay *> live_;
  uint32_t nextId_ = 1;
};

// The environment's relay thread, started on first use; nullptr (and *err set) if it cannot be.
RelayThread *ThreadOf(Napi::Env env, int *err) {
  auto *t = env.GetInstanceData<RelayThread>();
  if (t) return t;
  t = new RelayThread(env);
  *err = t->Start();
  if (*err) {
    delete t;
    return nullptr;
  }
  env.SetInstanceData<RelayThread>(t);  // deleted (thread stopped, joined) with the environment
  return t;
}

uint32_t IdOf(const Napi::CallbackInfo &info) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(info.Data()));
}

Napi::Value Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto *t = env.GetInstanceData<RelayThread>();
  ThreadRelay *r = t ? t->Find(IdOf(info)) : nullptr;
  if (!r) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  o.Set("aToB", num(r->abBytes.load(std::memory_order_relaxed)));
  o.Set("bToA", num(r->baBytes.load(std::memory_order_relaxed)));
  o.Set("aToBDone", Napi::Boolean::New(env, r->abDone.load(std::memory_order_relaxed)));
  o.Set("bToADone", Napi::Boolean::New(env, r->baDone.load(std::memory_order_relaxed)));
  o.Set("aToBPipe", num(r->abCap.load(std::memory_order_relaxed)));
  o.Set("bToAPipe", num(r->baCap.load(std::memory_order_relaxed)));
  return o;
}

Napi::Value Shutdown(const Napi::CallbackInfo &info) {
  auto *t = info.Env().GetInstanceData<RelayThread>();
  if (t) t->Shutdown(IdOf(info));
  return info.Env().Undefined();
}

}  // namespace

Napi::Value NativeRelayStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[3].IsFunction())
    return ThrowType(env, "nativeRelay(fdA, fdB, pipeSize, cb)");
  int a = info[0].As<Napi::Number>().Int32Value();
  int b = info[1].As<Napi::Number>().Int32Value();
  int pipeSize = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
  int e = 0;
  RelayThread *t = ThreadOf(env, &e);
  if (!t) return ThrowErrno(env, e, "relay thread");

  auto *r = new ThreadRelay();
  const char *syscall;
  e = r->io.Open(a, b, pipeSize, &syscall, t->Pool());
  if (e) {
    delete r;
    return ThrowErrno(env, e, syscall);
  }
  r->abCap = static_cast<uint32_t>(r->io.ab.cap);
  r->baCap = static_cast<uint32_t>(r->io.ba.cap);
  r->id = t->NextId();
  r->cb = Napi::Persistent(info[3].As<Napi::Function>());
  r->ctx = new Napi::AsyncContext(env, "MptcpNativeRelay");

  Napi::Object handle = Napi::Object::New(env);
  void *data = reinterpret_cast<void *>(static_cast<uintptr_t>(r->id));
  handle.Set("stats", Napi::Function::New(env, Stats, "stats", data));
  handle.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown", data));
  t->Add(r);
  return handle;
}
