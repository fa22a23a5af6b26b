{
  "targets": [
    {
      "target_name": "posix_mp",
      "sources": [
        "native/comm/fd_passing.cc",
        "native/comm/fd_watch.cc",
        "native/comm/rights_message.cc",
        "native/comm/scm_rights.cc",
        "native/comm/socket.cc",
        "native/comm/stream_io.cc",
        "native/core/addon.cc",
        "native/core/background_thread.cc",
        "native/core/deadline.cc",
        "native/core/errors.cc",
        "native/core/layout.cc",
        "native/memory/mapping.cc",
        "native/memory/mirror.cc",
        "native/memory/shm.cc",
        "native/process/child_watch.cc",
        "native/process/fork_exec.cc",
        "native/process/process.cc",
        "native/process/reap.cc",
        "native/process/spawner.cc",
        "native/sync/atomics.cc",
        "native/sync/lock.cc",
        "native/sync/sem_async.cc",
        "native/sync/semaphore.cc",
        "native/wait/futex.cc",
        "native/wait/waiter.cc"
      ],
      "include_dirs": [
        "native",
        "native/include"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden"
      ],
      "cflags_cc!": [
        "-std=gnu++17",
        "-std=gnu++20"
      ],
      "libraries": [
        "-lpthread",
        "-ldl"
      ]
    },
    {
      "target_name": "posix_mp_forkserver",
      "sources": [
        "native/comm/rights_message.cc",
        "native/forkserver/platform_hooks.cc",
        "native/forkserver/worker_pool.cc",
        "native/forkserver/zygote.cc"
      ],
      "include_dirs": [
        "native"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden"
      ],
      "cflags_cc!": [
        "-std=gnu++17",
        "-std=gnu++20"
      ],
      "libraries": [
        "-lpthread",
        "-ldl"
      ],
      "type": "shared_library"
    }
  ]
}
