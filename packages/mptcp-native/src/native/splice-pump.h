// One relay direction moved with splice(2) through a pipe: shared by the main-loop relay
// (splice.cc, uv_poll) and the relay thread (relay-thread.cc, epoll). No policy, no Node.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

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
  bool capped = false;    // the last Pump stopped at its round cap while still moving bytes
  size_t firstCap = 0;    // the pipe's size when it was made
};

// Empty pipes that never grew, kept for the next relay instead of pipe2 + F_GETPIPE_SZ + 2 closes
// per direction (the relay thread's; any thread may take or give).
class PipePool {
 public:
  explicit PipePool(size_t max) : max_(max) {}
  ~PipePool();
  // A pooled pipe into d (false: none left).
  bool Take(Dir *d);
  // d's pipe back to the pool when it is empty and at its first size; else it is closed.
  void Give(Dir *d);

 private:
  struct Entry {
    int r, w;
    size_t cap;
  };
  std::mutex mu_;
  std::vector<Entry> pipes_;
  size_t max_;
};

// The fds of one relay: dups of the caller's two sockets and one pipe per direction.
struct RelayFds {
  int fdA = -1, fdB = -1;
  Dir ab, ba;
  // dup(a), dup(b), two pipes (from `pool` when it has some, else MakePipe); errno on failure,
  // with nothing left open.
  int Open(int a, int b, int pipeSize, const char **syscall, PipePool *pool = nullptr);
  void Close(PipePool *pool = nullptr);
};

// Moves what it can in one direction; returns an errno (0 = fine) and sets *syscall and *failFd.
// `levelTriggered`: the caller's poll reports readable again while bytes wait (uv_poll), so a
// short read ends the reading; edge-triggered callers (the relay thread) read until EAGAIN.
int Pump(Dir *d, const char **syscall, int *failFd, bool levelTriggered);
// pipe2 (non-blocking, close-on-exec); `size` > 0: grow to it once the pipe first fills.
int MakePipe(Dir *d, int size);
void CloseFd(int &fd);
void ClosePipe(Dir *d);
