{
  "targets": [
    {
      "target_name": "posix_mp",
      "sources": [
        "native/addon.cc",
        "native/atomics.cc",
        "native/background_thread.cc",
        "native/child_watch.cc",
        "native/deadline.cc",
        "native/errors.cc",
        "native/fd_passing.cc",
        "native/fork_exec.cc",
        "native/futex.cc",
        "native/lock.cc",
        "native/mapping.cc",
        "native/mirror.cc",
        "native/process.cc",
        "native/sem_async.cc",
        "native/semaphore.cc",
        "native/shm.cc",
        "native/spawner.cc",
        "native/waiter.cc"
      ],
      "include_dirs": ["native/include"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"],
      "libraries": ["-lpthread", "-ldl"]
    }
  ]
}
