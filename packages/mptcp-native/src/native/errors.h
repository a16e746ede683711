// errno -> Node-style Error objects: { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' }.
#pragma once
#include <napi.h>

Napi::Error ErrnoError(Napi::Env env, int err, const char *syscall);
// Throw and return undefined; for use as `return ThrowErrno(env, errno, "bind");`.
Napi::Value ThrowErrno(Napi::Env env, int err, const char *syscall);
Napi::Value ThrowType(Napi::Env env, const char *message);
