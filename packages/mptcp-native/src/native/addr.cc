#include "addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

bool ParseIp(const std::string &host, int port, sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  auto *s4 = reinterpret_cast<sockaddr_in *>(ss);
  if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *s4;
    return true;
  }
  auto *s6 = reinterpret_cast<sockaddr_in6 *>(ss);
  std::string addr = host;
  std::string scope;
  size_t pct = host.find('%');
  if (pct != std::string::npos) {
    addr = host.substr(0, pct);
    scope = host.substr(pct + 1);
  }
  if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) != 1) return false;
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(static_cast<uint16_t>(port));
  if (!scope.empty()) {
    unsigned idx = if_nametoindex(scope.c_str());
    if (idx == 0) idx = static_cast<unsigned>(atoi(scope.c_str()));
    s6->sin6_scope_id = idx;
  }
  *len = sizeof *s6;
  return true;
}

Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage *ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  Napi::Object o = Napi::Object::New(env);
  if (ss->ss_family == AF_INET) {
    auto *s4 = reinterpret_cast<const sockaddr_in *>(ss);
    inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
    o.Set("address", buf);
    o.Set("port", ntohs(s4->sin_port));
    o.Set("family", 4);
    return o;
  }
  if (ss->ss_family == AF_INET6) {
    auto *s6 = reinterpret_cast<const sockaddr_in6 *>(ss);
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    o.Set("address", buf);
    o.Set("port", ntohs(s6->sin6_port));
    o.Set("family", 6);
    return o;
  }
  return env.Null();
}
