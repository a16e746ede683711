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
  if (pw.find('\0') != std::string::npos || setting.find('\0') != std::string::npos) return ThrowErrno(env, EINVAL, "crypt");
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
  if (user.find('\0') != std::string::npos) return ThrowErrno(env, EINVAL, "getpwnam");
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

// ---- off the event loop: the same checks on the libuv thread pool ----

namespace {

bool HasNul(const std::string &s) { return s.find('\0') != std::string::npos; }

// Constant-time equality of two NUL-free strings (the length is not secret: it is the scheme's).
bool SameHash(const char *a, const std::string &b) {
  size_t n = strlen(a);
  if (n != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < n; i++) d |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  return d == 0;
}

// The stored hash of a system account; "" for an unknown or locked one. Returns an errno or 0.
int LookupSystemHash(const std::string &user, std::string *out) {
  out->clear();
  std::vector<char> buf(16384);
  passwd pw;
  passwd *pres = nullptr;
  int e = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pres);
  if (e != 0) return e;
  if (!pres) return 0;
  std::string hash = pw.pw_passwd ? pw.pw_passwd : "";
  if (hash == "x" || hash == "*" || hash.empty()) {
    spwd sp;
    spwd *sres = nullptr;
    std::vector<char> sbuf(16384);
    e = getspnam_r(user.c_str(), &sp, sbuf.data(), sbuf.size(), &sres);
    if (e != 0 && e != ENOENT) return e;
    hash = sres && sp.sp_pwdp ? sp.sp_pwdp : "";
  }
  // Locked ("!..."), disabled ("*") or empty: no password can match.
  if (hash.empty() || hash[0] == '!' || hash[0] == '*' || hash == "x") hash.clear();
  *out = hash;
  return 0;
}

// verify: crypt(password, hash) == hash. An unknown account (empty hash) is checked against
// `dummy` (a hash of the same scheme) and is never a match, so it costs the same as a wrong password.
class VerifyWorker : public Napi::AsyncWorker {
 public:
  VerifyWorker(Napi::Function cb, bool system, std::string user, std::string password, std::string hash, std::string dummy)
      : Napi::AsyncWorker(cb, "MptcpCryptVerify"),
        system_(system),
        user_(std::move(user)),
        password_(std::move(password)),
        hash_(std::move(hash)),
        dummy_(std::move(dummy)) {}

  ~VerifyWorker() override { explicit_bzero(password_.data(), password_.size()); }

  void Execute() override {
    if (system_) {
      err_ = LookupSystemHash(user_, &hash_);
      if (err_ != 0) return;
    }
    bool known = !hash_.empty();
    const std::string &setting = known ? hash_ : dummy_;
    auto data = std::make_unique<crypt_data>();
    memset(data.get(), 0, sizeof(crypt_data));
    const char *out = crypt_rn(password_.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
    // An unusable stored hash never matches (crypt failed, or its "*" failure token).
    ok_ = known && out != nullptr && out[0] != '*' && SameHash(out, hash_);
    explicit_bzero(data.get(), sizeof(crypt_data));
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({ErrnoError(env, err_, "getpwnam").Value(), env.Undefined()});
      return;
    }
    Callback().Call({env.Null(), Napi::Boolean::New(env, ok_)});
  }

 private:
  bool system_;
  std::string user_, password_, hash_, dummy_;
  int err_ = 0;
  bool ok_ = false;
};

}  // namespace

// cryptVerify(password, hash, dummy, cb(err, ok)): hash "" = unknown user (checked against dummy).
Napi::Value CryptVerify(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsFunction()) {
    return ThrowType(env, "cryptVerify(password, hash, dummy, cb)");
  }
  std::string pw = info[0].As<Napi::String>().Utf8Value();
  std::string hash = info[1].As<Napi::String>().Utf8Value();
  std::string dummy = info[2].As<Napi::String>().Utf8Value();
  if (HasNul(pw) || HasNul(hash) || HasNul(dummy)) return ThrowErrno(env, EINVAL, "crypt");
  auto *w = new VerifyWorker(info[3].As<Napi::Function>(), false, "", std::move(pw), std::move(hash), std::move(dummy));
  w->Queue();
  return env.Undefined();
}

// systemVerify(user, password, dummy, cb(err, ok)): getpwnam/getspnam + crypt on the thread pool.
Napi::Value SystemVerify(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsFunction()) {
    return ThrowType(env, "systemVerify(user, password, dummy, cb)");
  }
  std::string user = info[0].As<Napi::String>().Utf8Value();
  std::string pw = info[1].As<Napi::String>().Utf8Value();
  std::string dummy = info[2].As<Napi::String>().Utf8Value();
  // getpwnam("root\0zzz") would look up root: a NUL is refused, never truncated.
  if (user.empty() || HasNul(user) || HasNul(pw) || HasNul(dummy)) return ThrowErrno(env, EINVAL, "getpwnam");
  auto *w = new VerifyWorker(info[3].As<Napi::Function>(), true, std::move(user), std::move(pw), "", std::move(dummy));
  w->Queue();
  return env.Undefined();
}

// cryptGensalt(prefix, count) -> a fresh setting ("" prefix = libxcrypt's default scheme).
Napi::Value CryptGensalt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) return ThrowType(env, "cryptGensalt(prefix, count)");
  std::string prefix = info[0].As<Napi::String>().Utf8Value();
  unsigned long count = info[1].As<Napi::Number>().Uint32Value();
  char out[CRYPT_GENSALT_OUTPUT_SIZE];
  errno = 0;
  const char *r = crypt_gensalt_rn(prefix.empty() ? nullptr : prefix.c_str(), count, nullptr, 0, out, sizeof(out));
  if (!r || r[0] == '*') return ThrowErrno(env, errno ? errno : EINVAL, "crypt_gensalt");
  return Napi::String::New(env, r);
}
