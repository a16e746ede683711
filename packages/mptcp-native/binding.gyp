{
  "targets": [
    {
      "target_name": "mptcp_native",
      "sources": [
        "src/native/addon.cc",
        "src/native/errors.cc",
        "src/native/addr.cc",
        "src/native/sockets.cc",
        "src/native/connect.cc",
        "src/native/mptcp-info.cc",
        "src/native/syslog.cc",
        "src/native/crypt.cc",
        "src/native/privileges.cc",
        "src/native/keepalive.cc",
        "src/native/udp.cc",
        "src/native/netlink.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-rtti"
      ],
      "libraries": [
        "-lcrypt"
      ]
    },
    {
      "target_name": "mptcp_splice",
      "sources": [
        "src/native/splice-addon.cc",
        "src/native/splice.cc",
        "src/native/splice-pump.cc",
        "src/native/relay-thread.cc",
        "src/native/errors.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-rtti"
      ],
      "libraries": [
        "-lpthread"
      ]
    }
  ]
}
