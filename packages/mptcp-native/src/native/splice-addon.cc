// Module init of mptcp_splice.node: spliceRelay only.
#include "splice.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spliceRelay", Napi::Function::New(env, SpliceRelayStart, "spliceRelay"));
  return exports;
}

NODE_API_MODULE(mptcp_splice, Init)
