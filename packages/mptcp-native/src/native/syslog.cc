// A connected AF_UNIX datagram socket (syslog's /dev/log); Node has no datagram unix sockets.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "functions.h"

Napi::Value UnixDgramOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "unixDgramOpen(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un sun = {};
  if (path.size() >= sizeof sun.sun_path) return ThrowErrno(env, ENAMETOOLONG, "connect");
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr *>(&sun), sizeof sun) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "connect");
  }
  return Napi::Number::New(env, fd);
}

// unixDgramSend(fd, buffer); EAGAIN (reader too slow) is reported like any other errno.
Napi::Value UnixDgramSend(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsBuffer()) return ThrowType(env, "unixDgramSend(fd, buffer)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  ssize_t n;
  do n = send(fd, buf.Data(), buf.Length(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "send");
  return env.Undefined();
}
