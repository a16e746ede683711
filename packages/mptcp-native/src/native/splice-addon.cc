// Module init of mptcp_splice.node: spliceRelay (main loop) and nativeRelay (own thread).
#include "splice.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spliceRelay", Napi::Function::New(env, SpliceRelayStart, "spliceRelay"));
  exports.Set("nativeRelay", Napi::Function::New(env, NativeRelayStart, "nativeRelay"));
  return exports;
}

NODE_API_MODULE(mptcp_splice, Init)
