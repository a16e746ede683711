// crypt(3) via libxcrypt's crypt_rn, and the stored hash of a system account.
#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "functions.h"

// crypt(password, setting) -> hash string.
Napi::Value Crypt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) return ThrowType(env, "crypt(password, setting)");
  std::string pw = info[0].As<Napi::String>().Utf8Value();
  std::string setting = info[1].As<Napi::String>().Utf8Value();
  auto data = std::make_unique<crypt_data>();
  memset(data.get(), 0, sizeof(crypt_data));
  errno = 0;
  const char *out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  // libxcrypt returns NULL or a "*"-prefixed failure token for an unsupported/invalid setting.
  if (!out || out[0] == '*') return ThrowErrno(env, errno ? errno : EINVAL, "crypt");
  return Napi::String::New(env, out);
}

// systemPasswordHash(user) -> the passwd/shadow hash, or null when the user does not exist.
Napi::Value SystemPasswordHash(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "systemPasswordHash(user)");
  std::string user = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buf(16384);
  passwd pw;
  passwd *pres = nullptr;
  int e = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pres);
  if (e != 0) return ThrowErrno(env, e, "getpwnam");
  if (!pres) return env.Null();
  std::string hash = pw.pw_passwd ? pw.pw_passwd : "";
  if (hash == "x" || hash == "*" || hash.empty()) {
    spwd sp;
    spwd *sres = nullptr;
    std::vector<char> sbuf(16384);
    errno = 0;
    e = getspnam_r(user.c_str(), &sp, sbuf.data(), sbuf.size(), &sres);
    if (e != 0 && e != ENOENT) return ThrowErrno(env, e, "getspnam");
    // No shadow entry: return the passwd field ("x", "*"), which no crypt output matches.
    if (!sres) return Napi::String::New(env, hash);
    hash = sp.sp_pwdp ? sp.sp_pwdp : "";
  }
  return Napi::String::New(env, hash);
}
