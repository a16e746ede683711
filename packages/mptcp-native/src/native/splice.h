// The splice relay addon (a separate target, mptcp_splice.node, so addon.cc stays untouched).
#pragma once
#include <napi.h>

Napi::Value SpliceRelayStart(const Napi::CallbackInfo &info);
