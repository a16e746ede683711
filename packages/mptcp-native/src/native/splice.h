// The splice relay addon (a separate target, mptcp_splice.node, so addon.cc stays untouched).
#pragma once
#include <napi.h>

#include <cstdint>

Napi::Value SpliceRelayStart(const Napi::CallbackInfo &info);

// Both relays' one event: cb(err | null, aToB, bToA, firstDone | null); err (when `err`) is a
// Node-style errno error of `syscall` with `side` ('a' or 'b') when known.
void CallRelayCallback(Napi::Env env, Napi::FunctionReference &cb, Napi::AsyncContext &ctx, int err,
                       const char *syscall, char side, uint64_t aToB, uint64_t bToA, const char *firstDone);
// nativeRelay: the same relay on the addon's own thread (relay-thread.cc).
Napi::Value NativeRelayStart(const Napi::CallbackInfo &info);
