// One relay direction with splice(2) through a pipe (see splice-pump.h).
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "splice-pump.h"

namespace {

constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr int kMaxRounds = 16;  // fairness: yield to the loop after this many rounds

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

}  // namespace

int Pump(Dir *d, const char **syscall, int *failFd, bool levelTriggered) {
  d->capped = false;
  // A short read under a level-triggered poll: the socket had no more for now (or the pipe's
  // slots ran out); the poll reports what comes next, so no read just to see EAGAIN.
  bool drained = false;
  for (int round = 0; round < kMaxRounds; round++) {
    bool progress = false;
    if ((d->pipeFull || d->inPipe >= d->cap) && Grow(d)) progress = true;
    if (!d->eof && !drained && !d->pipeFull && d->inPipe < d->cap) {
      size_t want = d->cap - d->inPipe;
      ssize_t n = splice(d->from, nullptr, d->pipe[1], nullptr, want, kFlags);
      if (n > 0) {
        d->inPipe += static_cast<size_t>(n);
        progress = true;
        drained = levelTriggered && static_cast<size_t>(n) < want;
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
    if (round == kMaxRounds - 1) d->capped = true;
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

int MakePipe(Dir *d, int size) {
  if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  int cap = fcntl(d->pipe[1], F_GETPIPE_SZ);
  if (cap > 0) d->cap = static_cast<size_t>(cap);
  d->firstCap = d->cap;
  if (size > 0) d->growTo = static_cast<size_t>(size);
  return 0;
}

void CloseFd(int &fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void ClosePipe(Dir *d) {
  CloseFd(d->pipe[0]);
  CloseFd(d->pipe[1]);
}

int RelayFds::Open(int a, int b, int pipeSize, const char **syscall, PipePool *pool) {
  int e = 0;
  *syscall = "dup";
  fdA = fcntl(a, F_DUPFD_CLOEXEC, 0);
  if (fdA < 0) e = errno;
  if (!e && (fdB = fcntl(b, F_DUPFD_CLOEXEC, 0)) < 0) e = errno;
  if (!e) {
    *syscall = "pipe";
    for (Dir *d : {&ab, &ba}) {
      if (pool && pool->Take(d)) {
        if (pipeSize > 0) d->growTo = static_cast<size_t>(pipeSize);
      } else if ((e = MakePipe(d, pipeSize)) != 0) {
        break;
      }
    }
  }
  if (e) {
    Close();
    return e;
  }
  ab.from = fdA;
  ab.to = fdB;
  ba.from = fdB;
  ba.to = fdA;
  return 0;
}

void RelayFds::Close(PipePool *pool) {
  CloseFd(fdA);
  CloseFd(fdB);
  for (Dir *d : {&ab, &ba}) {
    if (pool) pool->Give(d);
    ClosePipe(d);
  }
}

PipePool::~PipePool() {
  for (Entry &p : pipes_) {
    close(p.r);
    close(p.w);
  }
}

bool PipePool::Take(Dir *d) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pipes_.empty()) return false;
  Entry p = pipes_.back();
  pipes_.pop_back();
  d->pipe[0] = p.r;
  d->pipe[1] = p.w;
  d->cap = d->firstCap = p.cap;
  return true;
}

void PipePool::Give(Dir *d) {
  if (d->pipe[0] < 0 || d->pipe[1] < 0 || d->inPipe != 0 || d->cap != d->firstCap) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (pipes_.size() >= max_) return;
  pipes_.push_back({d->pipe[0], d->pipe[1], d->cap});
  d->pipe[0] = d->pipe[1] = -1;
}
