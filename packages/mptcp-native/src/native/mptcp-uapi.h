// Own copies of the MPTCP uapi structs (kernel 6.18 layout). The installed
// linux/mptcp.h is older than the running kernel; never trust a field beyond
// the optlen the kernel returns.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

namespace mp {
constexpr int kInfo = 1;
constexpr int kTcpInfo = 2;
constexpr int kSubflowAddrs = 3;
constexpr int kFullInfo = 4;

struct Info {
  uint8_t subflows, add_addr_signal, add_addr_accepted, subflows_max, add_addr_signal_max,
      add_addr_accepted_max;
  uint32_t flags, token;
  uint64_t write_seq, snd_una, rcv_nxt;
  uint8_t local_addr_used, local_addr_max, csum_enabled;
  uint32_t retransmits;
  uint64_t bytes_retrans, bytes_sent, bytes_received, bytes_acked;
  uint8_t subflows_total, endp_laminar_max, endp_fullmesh_max, reserved;
  uint32_t last_data_sent, last_data_recv, last_ack_recv;
};
static_assert(sizeof(Info) == 96, "mptcp_info layout");

struct SubflowData {
  uint32_t size_subflow_data, num_subflows, size_kernel, size_user;
} __attribute__((aligned(8)));

struct SubflowAddrs {
  sockaddr_storage local, remote;
};

struct SubflowInfo {
  uint32_t id;
  SubflowAddrs addrs;
};

struct FullInfo {
  uint32_t size_tcpinfo_kernel, size_tcpinfo_user, size_sfinfo_kernel, size_sfinfo_user, num_subflows,
      size_arrays_user;
  uint64_t subflow_info __attribute__((aligned(8)));
  uint64_t tcp_info __attribute__((aligned(8)));
  Info mptcp_info;
};
}  // namespace mp
