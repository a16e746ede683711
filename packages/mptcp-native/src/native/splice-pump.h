// One relay direction moved with splice(2) through a pipe: shared by the main-loop relay
// (splice.cc, uv_poll) and the relay thread (relay-thread.cc, epoll). No policy, no Node.
#pragma once
#include <cstddef>
#include <cstdint>

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
};

// The fds of one relay: dups of the caller's two sockets and one pipe per direction.
struct RelayFds {
  int fdA = -1, fdB = -1;
  Dir ab, ba;
  // dup(a), dup(b), two pipes (see MakePipe); errno on failure, with nothing left open.
  int Open(int a, int b, int pipeSize, const char **syscall);
  void Close();
};

// Moves what it can in one direction; returns an errno (0 = fine) and sets *syscall and *failFd.
int Pump(Dir *d, const char **syscall, int *failFd);
// pipe2 (non-blocking, close-on-exec); `size` > 0: grow to it once the pipe first fills.
int MakePipe(Dir *d, int size);
void CloseFd(int &fd);
void ClosePipe(Dir *d);
