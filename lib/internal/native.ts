/**
 * Loads the compiled addon: `prebuilds/<platform>-<arch>/*.node` when present, else `build/Release`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkLayout, type Layout } from './layout.js';

/** Results of native waits (`WaitStatus` in native/wait/futex.h); negative numbers are `-errno`. */
export const enum WaitStatus {
  Ok = 0,
  TimedOut = 1,
  NotEqual = 2,
  Cancelled = 3,
  OwnerDied = 4,
}

/** How a named object is opened (`OpenMode` in native/core/open_mode.h). */
export const enum OpenMode {
  Open = 0,
  Create = 1,
  OpenOrCreate = 2,
}

type WaitCallback = (status: number) => void;

/** A POSIX semaphore handle from the addon. */
export interface NativeSemaphore {
  post(count?: number): void;
  tryWait(): boolean;
  getValue(): number;
  waitSync(timeoutMs: number): boolean;
  waitAsync(timeoutMs: number, callback: WaitCallback): number;
  counter(): ArrayBuffer | undefined;
  wake(count: number): void;
  close(): void;
}

/**
 * A descriptor watched on the event loop (native/comm/fd_watch.cc). `start(events)`: UV_READABLE 1,
 * UV_WRITABLE 2, 0 stops; level-triggered. `close()` before closing the descriptor.
 */
export interface NativeFdWatcher {
  start(events: number): void;
  close(): void;
}

/** What `spawn`/`daemonize` execute (`ExecPlan` in native/process/fork_exec.h), built by lib/posix/spawn.ts. */
export interface SpawnRequest {
  /** The program as the user named it, for error messages. */
  file: string;
  /** execve candidates in order (the PATH search is done in TypeScript). */
  paths: string[];
  /** The complete argv, argv[0] included. */
  argv: string[];
  /** `NAME=value` strings. */
  envp: string[];
  cwd: string | undefined;
  /** Child fd i becomes a copy of parent fd fds[i]; -1 opens /dev/null there, -2 leaves it closed. */
  fds: number[];
  setsid: boolean;
  /** -1: the parent's group; 0: a new group led by the child; >0: join that group. */
  pgid: number;
  /** 0: none. */
  deathSignal: number;
  /** daemonize only; -1: unchanged. */
  umask: number;
  /** spawn only: whether the child keeps the event loop alive. */
  ref: boolean;
}

/** Called once a child has been reaped: `code` is -1 if a signal killed it, `signal` 0 if none. */
export type ChildExitCallback = (code: number, signal: number, coreDumped: boolean) => void;

/** The addon's exports (native/core/addon.cc). */
export interface Binding {
  spawn(request: SpawnRequest, onExit: ChildExitCallback): number;
  daemonize(request: SpawnRequest): number;
  childWait(pid: number, timeoutMs: number): boolean;
  childRef(pid: number, ref: boolean): boolean;
  /** Watches a child forked by the fork server; `channel` is this process's end of its job channel. */
  watchForkedChild(pid: number, channel: number, onExit: ChildExitCallback, ref: boolean): void;
  childExitReport(pid: number, fd: number): boolean;
  kill(pid: number, signal: number): void;
  killpg(pgid: number, signal: number): void;
  setsid(): number;
  getpgid(pid: number): number;
  signalDisposition(signal: number, ignore: boolean): void;
  cancelWait(id: number): boolean;
  pendingWaits(): number;
  map(fd: number, size: number): ArrayBuffer;
  unmap(buffer: ArrayBuffer): void;
  pageSize: number;
  mirrorPage(source: ArrayBuffer, sourceOffset: number, window: ArrayBuffer, windowOffset: number): void;
  unmirrorPage(window: ArrayBuffer, windowOffset: number): void;
  shmOpen(name: string, mode: OpenMode, permissions: number): { fd: number; created: boolean };
  shmUnlink(name: string): void;
  memfdCreate(label: string): number;
  ftruncate(fd: number, size: number): void;
  fdSize(fd: number): number;
  closeFd(fd: number): void;
  Semaphore: {
    open(
      name: string,
      mode: OpenMode,
      permissions: number,
      value: number,
    ): { semaphore: NativeSemaphore; created: boolean };
    inMemory(buffer: ArrayBuffer, byteOffset: number, initialValue: number): NativeSemaphore;
    unlink(name: string): void;
  };
  semLayoutIsGlibc: boolean;
  futexWait(view: Int32Array, index: number, expected: number, timeoutMs: number): number;
  futexWaitAsync(view: Int32Array, index: number, expected: number, timeoutMs: number, callback: WaitCallback): number;
  futexWake(view: Int32Array, index: number, count: number): number;
  selfToken(): bigint;
  lockTry(buffer: ArrayBuffer, byteOffset: number): number;
  lockAcquireSync(buffer: ArrayBuffer, byteOffset: number, timeoutMs: number): number;
  lockAcquireAsync(buffer: ArrayBuffer, byteOffset: number, timeoutMs: number, callback: WaitCallback): number;
  lockWake(buffer: ArrayBuffer, byteOffset: number): void;
  socketPair(): [number, number];
  sendMessage(fd: number, bytes: Uint8Array, fds: number[]): void;
  receiveMessage(fd: number, maxBytes: number): { bytes: Buffer; fds: number[] } | null;
  maxFdsPerMessage: number;
  closeOnExec(fd: number): void;
  streamPair(): [number, number];
  pipe(): [number, number];
  setNonBlocking(fd: number): void;
  dupFd(fd: number): number;
  isUnixSocket(fd: number): boolean;
  /** Bytes read; 0 at end of stream; -1 if none now. Received descriptors are pushed to `fdsOut`. */
  readStream(fd: number, target: Uint8Array, offset: number, length: number, isSocket: boolean, fdsOut: number[]): number;
  /** Bytes written (maybe fewer); -1 if the stream is full now. `fds` go with the first byte. */
  writeStream(fd: number, source: Uint8Array, offset: number, length: number, isSocket: boolean, fds: number[] | undefined): number;
  /** poll(2) on one descriptor: the ready events (POLLIN 1, POLLOUT 4, POLLERR 8, POLLHUP 16), 0 on timeout. */
  pollFd(fd: number, events: number, timeoutMs: number): number;
  FdWatcher: new (fd: number, callback: (status: number, events: number) => void) => NativeFdWatcher;
  listen(where: string, port: number | undefined, backlog: number): number;
  accept(fd: number): number;
  connect(where: string, port: number | undefined): number;
  connectResult(fd: number): number;
  noDelay(fd: number): void;
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  localPort(fd: number): number;
  setParentDeathSignal(signal: number): void;
  reportExitOn(fd: number): void;
  exitNow(code: number): never;
  environmentBlock(): string;
  /** How many waiter or spawner threads this process has ever started (a fork server's zygote: none). */
  backgroundThreadsStarted(): number;
  /** sizeof/offsetof of posix_mp.h's structs and its constants (native/core/layout.cc), see layout.ts. */
  layout: Layout;
}

const require = createRequire(import.meta.url);
/** The package root: the nearest folder above this module with a package.json (dist/ when built, lib/internal/ in development). */
export const packageRoot = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/**
 * The loaded addon. `POSIX_MP_ADDON=/path/to/posix_mp.node` loads a specific build instead, e.g. the
 * sanitizer build of `npm run build:debug` (see README, "Developing").
 */
export const binding: Binding = process.env.POSIX_MP_ADDON
  ? require(path.resolve(process.env.POSIX_MP_ADDON))
  : require('node-gyp-build')(packageRoot);

checkLayout(binding.layout);
