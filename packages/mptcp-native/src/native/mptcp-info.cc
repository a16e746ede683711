// MPTCP_INFO, MPTCP_FULL_INFO (or MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO) and TCP_INFO readers.
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <vector>

#include "addr.h"
#include "errors.h"
#include "functions.h"
#include "mptcp-uapi.h"

#define HAS(len, type, field) (offsetof(type, field) + sizeof(((type *)0)->field) <= (len))

namespace {

Napi::Object InfoToJs(Napi::Env env, const mp::Info &mi, socklen_t len) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("optlen", len);
  o.Set("extraSubflows", mi.subflows);
  o.Set("addAddrSignal", mi.add_addr_signal);
  o.Set("addAddrAccepted", mi.add_addr_accepted);
  o.Set("subflowsMax", mi.subflows_max);
  o.Set("addAddrSignalMax", mi.add_addr_signal_max);
  o.Set("addAddrAcceptedMax", mi.add_addr_accepted_max);
  if (HAS(len, mp::Info, flags)) o.Set("flags", mi.flags);
  if (HAS(len, mp::Info, token)) o.Set("token", mi.token);
  if (HAS(len, mp::Info, write_seq)) o.Set("writeSeq", static_cast<double>(mi.write_seq));
  if (HAS(len, mp::Info, snd_una)) o.Set("sndUna", static_cast<double>(mi.snd_una));
  if (HAS(len, mp::Info, rcv_nxt)) o.Set("rcvNxt", static_cast<double>(mi.rcv_nxt));
  if (HAS(len, mp::Info, local_addr_used)) o.Set("localAddrUsed", mi.local_addr_used);
  if (HAS(len, mp::Info, local_addr_max)) o.Set("localAddrMax", mi.local_addr_max);
  if (HAS(len, mp::Info, csum_enabled)) o.Set("csumEnabled", mi.csum_enabled);
  if (HAS(len, mp::Info, retransmits)) o.Set("retransmits", mi.retransmits);
  if (HAS(len, mp::Info, bytes_retrans)) o.Set("bytesRetrans", static_cast<double>(mi.bytes_retrans));
  if (HAS(len, mp::Info, bytes_sent)) o.Set("bytesSent", static_cast<double>(mi.bytes_sent));
  if (HAS(len, mp::Info, bytes_received)) o.Set("bytesReceived", static_cast<double>(mi.bytes_received));
  if (HAS(len, mp::Info, bytes_acked)) o.Set("bytesAcked", static_cast<double>(mi.bytes_acked));
  if (HAS(len, mp::Info, subflows_total)) o.Set("subflowsTotal", mi.subflows_total);
  if (HAS(len, mp::Info, last_data_sent)) o.Set("lastDataSent", mi.last_data_sent);
  if (HAS(len, mp::Info, last_data_recv)) o.Set("lastDataRecv", mi.last_data_recv);
  if (HAS(len, mp::Info, last_ack_recv)) o.Set("lastAckRecv", mi.last_ack_recv);
  return o;
}

Napi::Object TcpInfoToJs(Napi::Env env, const tcp_info &ti, size_t len) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", ti.tcpi_state);
  o.Set("retransmits", ti.tcpi_retransmits);
  o.Set("options", ti.tcpi_options);
  if (HAS(len, tcp_info, tcpi_rtt)) o.Set("rttUs", ti.tcpi_rtt);
  if (HAS(len, tcp_info, tcpi_rttvar)) o.Set("rttvarUs", ti.tcpi_rttvar);
  if (HAS(len, tcp_info, tcpi_snd_cwnd)) o.Set("cwnd", ti.tcpi_snd_cwnd);
  if (HAS(len, tcp_info, tcpi_total_retrans)) o.Set("totalRetrans", ti.tcpi_total_retrans);
  if (HAS(len, tcp_info, tcpi_bytes_acked)) o.Set("bytesAcked", static_cast<double>(ti.tcpi_bytes_acked));
  if (HAS(len, tcp_info, tcpi_bytes_received))
    o.Set("bytesReceived", static_cast<double>(ti.tcpi_bytes_received));
  o.Set("backoff", ti.tcpi_backoff);
  o.Set("unacked", ti.tcpi_unacked);
  o.Set("rtoUs", ti.tcpi_rto);
  o.Set("lastDataRecvMs", ti.tcpi_last_data_recv);
  o.Set("lastAckRecvMs", ti.tcpi_last_ack_recv);
  return o;
}

// tcp_info entries are size_tcpinfo_kernel apart when the kernel's struct is smaller than ours.
tcp_info TcpInfoAt(const std::vector<uint8_t> &buf, size_t stride, size_t i, size_t *valid) {
  tcp_info ti;
  memset(&ti, 0, sizeof ti);
  size_t n = stride < sizeof ti ? stride : sizeof ti;
  if ((i + 1) * stride <= buf.size()) memcpy(&ti, buf.data() + i * stride, n);
  *valid = n;
  return ti;
}

Napi::Object SubflowToJs(Napi::Env env, uint32_t id, const mp::SubflowAddrs &a, const tcp_info &ti, size_t tlen) {
  Napi::Object o = TcpInfoToJs(env, ti, tlen);
  o.Set("id", id);
  o.Set("local", SockaddrToJs(env, &a.local));
  o.Set("remote", SockaddrToJs(env, &a.remote));
  return o;
}

// Older kernels (5.16 .. 6.4): two getsockopts, each mptcp_subflow_data + array.
Napi::Value SubflowsLegacy(Napi::Env env, int fd) {
  const size_t max = 32;
  std::vector<uint8_t> abuf(sizeof(mp::SubflowData) + max * sizeof(mp::SubflowAddrs));
  auto *ad = reinterpret_cast<mp::SubflowData *>(abuf.data());
  ad->size_subflow_data = sizeof(mp::SubflowData);
  ad->size_user = sizeof(mp::SubflowAddrs);
  socklen_t alen = abuf.size();
  if (getsockopt(fd, SOL_MPTCP, mp::kSubflowAddrs, abuf.data(), &alen) < 0)
    return ThrowErrno(env, errno, "getsockopt");
  std::vector<uint8_t> tbuf(sizeof(mp::SubflowData) + max * sizeof(tcp_info));
  auto *td = reinterpret_cast<mp::SubflowData *>(tbuf.data());
  td->size_subflow_data = sizeof(mp::SubflowData);
  td->size_user = sizeof(tcp_info);
  socklen_t tlen = tbuf.size();
  if (getsockopt(fd, SOL_MPTCP, mp::kTcpInfo, tbuf.data(), &tlen) < 0) return ThrowErrno(env, errno, "getsockopt");
  size_t n = ad->num_subflows < max ? ad->num_subflows : max;
  size_t astride = ad->size_user ? ad->size_user : sizeof(mp::SubflowAddrs);
  size_t tstride = td->size_user ? td->size_user : sizeof(tcp_info);
  std::vector<uint8_t> tarr(tbuf.begin() + sizeof(mp::SubflowData), tbuf.end());
  Napi::Array out = Napi::Array::New(env);
  for (size_t i = 0; i < n; i++) {
    mp::SubflowAddrs a;
    memset(&a, 0, sizeof a);
    memcpy(&a, abuf.data() + sizeof(mp::SubflowData) + i * astride, astride < sizeof a ? astride : sizeof a);
    size_t valid = 0;
    tcp_info ti = i < td->num_subflows ? TcpInfoAt(tarr, tstride, i, &valid) : tcp_info{};
    out.Set(static_cast<uint32_t>(i), SubflowToJs(env, static_cast<uint32_t>(i + 1), a, ti, valid));
  }
  return out;
}

}  // namespace

// mptcpInfo(fd) -> raw mptcp_info fields present in the returned optlen; throws errno errors.
Napi::Value MptcpInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  mp::Info mi;
  memset(&mi, 0, sizeof mi);
  socklen_t len = sizeof mi;
  if (getsockopt(fd, SOL_MPTCP, mp::kInfo, &mi, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
  return InfoToJs(env, mi, len);
}

// subflows(fd) -> [{id, local, remote, rttUs, ...}]; MPTCP_FULL_INFO, else the two older calls.
Napi::Value Subflows(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  for (uint32_t cap = 8; cap <= 256; cap *= 4) {
    std::vector<mp::SubflowInfo> sfi(cap);
    std::vector<uint8_t> tib(cap * sizeof(tcp_info));
    memset(sfi.data(), 0, cap * sizeof(mp::SubflowInfo));
    mp::FullInfo fi;
    memset(&fi, 0, sizeof fi);
    fi.size_arrays_user = cap;
    fi.size_sfinfo_user = sizeof(mp::SubflowInfo);
    fi.size_tcpinfo_user = sizeof(tcp_info);
    fi.subflow_info = reinterpret_cast<uintptr_t>(sfi.data());
    fi.tcp_info = reinterpret_cast<uintptr_t>(tib.data());
    socklen_t len = sizeof fi;
    if (getsockopt(fd, SOL_MPTCP, mp::kFullInfo, &fi, &len) < 0) {
      int e = errno;
      // A fallen-back socket gives the same errors for MPTCP_INFO; only try the old calls
      // when MPTCP_INFO works (kernel without MPTCP_FULL_INFO).
      mp::Info mi;
      socklen_t ml = sizeof mi;
      if (getsockopt(fd, SOL_MPTCP, mp::kInfo, &mi, &ml) == 0) return SubflowsLegacy(env, fd);
      return ThrowErrno(env, e, "getsockopt");
    }
    if (fi.num_subflows > cap && cap < 256) continue;
    size_t n = fi.num_subflows < cap ? fi.num_subflows : cap;
    size_t tstride = fi.size_tcpinfo_user ? fi.size_tcpinfo_user : sizeof(tcp_info);
    Napi::Array out = Napi::Array::New(env);
    for (size_t i = 0; i < n; i++) {
      size_t valid = 0;
      tcp_info ti = TcpInfoAt(tib, tstride, i, &valid);
      if (fi.size_tcpinfo_kernel && fi.size_tcpinfo_kernel < valid) valid = fi.size_tcpinfo_kernel;
      out.Set(static_cast<uint32_t>(i), SubflowToJs(env, sfi[i].id, sfi[i].addrs, ti, valid));
    }
    return out;
  }
  return Napi::Array::New(env);
}

// tcpInfo(fd) -> TCP_INFO basics (the first subflow on an MPTCP socket).
Napi::Value TcpInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  tcp_info ti;
  memset(&ti, 0, sizeof ti);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
  return TcpInfoToJs(env, ti, len);
}
