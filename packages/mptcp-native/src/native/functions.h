// Every function the addon exports; registered in addon.cc.
#pragma once
#include <napi.h>

Napi::Value Socket(const Napi::CallbackInfo &info);
Napi::Value SetsockoptInt(const Napi::CallbackInfo &info);
Napi::Value GetsockoptInt(const Napi::CallbackInfo &info);
Napi::Value BindToDevice(const Napi::CallbackInfo &info);
Napi::Value Bind(const Napi::CallbackInfo &info);
Napi::Value Listen(const Napi::CallbackInfo &info);
Napi::Value Close(const Napi::CallbackInfo &info);
Napi::Value Sockname(const Napi::CallbackInfo &info);
Napi::Value Peername(const Napi::CallbackInfo &info);
Napi::Value OriginalDst(const Napi::CallbackInfo &info);
Napi::Value Connect(const Napi::CallbackInfo &info);
Napi::Value MptcpInfo(const Napi::CallbackInfo &info);
Napi::Value Subflows(const Napi::CallbackInfo &info);
Napi::Value TcpInfo(const Napi::CallbackInfo &info);
Napi::Value UnixDgramOpen(const Napi::CallbackInfo &info);
Napi::Value UnixDgramSend(const Napi::CallbackInfo &info);
Napi::Value Crypt(const Napi::CallbackInfo &info);
Napi::Value SystemPasswordHash(const Napi::CallbackInfo &info);
Napi::Value SetTcpKeepalive(const Napi::CallbackInfo &info);
Napi::Value GetTcpKeepalive(const Napi::CallbackInfo &info);
Napi::Value CryptVerify(const Napi::CallbackInfo &info);
Napi::Value SystemVerify(const Napi::CallbackInfo &info);
Napi::Value CryptGensalt(const Napi::CallbackInfo &info);
Napi::Value SetKeepCaps(const Napi::CallbackInfo &info);
Napi::Value SetCapabilities(const Napi::CallbackInfo &info);
Napi::Value DgramSocket(const Napi::CallbackInfo &info);
Napi::Value RecvFrom(const Napi::CallbackInfo &info);
Napi::Value SendTo(const Napi::CallbackInfo &info);
Napi::Value WatchReadable(const Napi::CallbackInfo &info);
Napi::Value Unwatch(const Napi::CallbackInfo &info);
Napi::Value NetlinkOpen(const Napi::CallbackInfo &info);
Napi::Value NetlinkSend(const Napi::CallbackInfo &info);
Napi::Value NetlinkWatch(const Napi::CallbackInfo &info);
