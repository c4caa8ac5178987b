{
  "targets": [
    {
      "target_name": "ataru",
      "sources": [
        "native/addon.cc",
        "native/addon_packet.cc",
        "<!@(ls -1 native/*.c)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "common",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O2", "-pthread", "-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17"],
      "ldflags": ["-pthread", "-lrt", "-lm"]
    }
  ]
}
