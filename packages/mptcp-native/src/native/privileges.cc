// The two capability calls Node lacks, for a permanent privilege drop (setuid keeps only the
// capabilities the TS policy names). Both act on the calling (main) thread, which runs the
// event loop; glibc's setuid/setgid/setgroups, which Node calls, apply to every thread.
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "functions.h"

// setKeepCaps(on): prctl(PR_SET_KEEPCAPS): keep the permitted set across the next setuid().
Napi::Value SetKeepCaps(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) return ThrowType(env, "setKeepCaps(on)");
  if (prctl(PR_SET_KEEPCAPS, info[0].As<Napi::Boolean>().Value() ? 1 : 0, 0, 0, 0) != 0) return ThrowErrno(env, errno, "prctl");
  return env.Undefined();
}

// setCapabilities(caps): permitted = effective = caps, inheritable and ambient empty.
Napi::Value SetCapabilities(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return ThrowType(env, "setCapabilities(caps)");
  Napi::Array caps = info[0].As<Napi::Array>();
  __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (uint32_t i = 0; i < caps.Length(); i++) {
    Napi::Value v = caps[i];
    if (!v.IsNumber()) return ThrowType(env, "setCapabilities(caps): numbers");
    uint32_t cap = v.As<Napi::Number>().Uint32Value();
    if (cap > CAP_LAST_CAP) return ThrowErrno(env, EINVAL, "capset");
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return ThrowErrno(env, errno, "prctl");
  if (syscall(SYS_capset, &hdr, data) != 0) return ThrowErrno(env, errno, "capset");
  return env.Undefined();
}
