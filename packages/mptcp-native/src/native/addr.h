// IP literal <-> sockaddr conversions.
#pragma once
#include <napi.h>
#include <sys/socket.h>

#include <string>

// Parse an IPv4/IPv6 literal (IPv6 may carry %scope). Returns false if not a literal.
bool ParseIp(const std::string &host, int port, sockaddr_storage *ss, socklen_t *len);
// { address, port, family: 4|6 } or null for other families.
Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage *ss);
