/**
 * The 'forkserver' start method, the serving side: what a zygote does (see forkserver.ts), and what a child
 * forked from it does before it continues as a prepared interpreter.
 *
 * The zygote has booted like a prepared interpreter (child.ts: posix-mp loaded, a job rehearsed, no user
 * code but the modules of setForkserverPreload()). It then hooks the Node platform (native/forkserver/),
 * ignores SIGINT (a Ctrl-C for its owner's process group is its owner's business; the owner's death kills
 * it) and waits on its control socket. Each request is served by a child forked ahead of it (a spare, see
 * serveForks); the child leaves the zygote's code with its job channel on descriptor 3 and becomes a full
 * citizen of its own: its pid and parent pid, its random numbers, no descriptor or handle of the zygote's.
 * Its environment, working directory and argv come with its job, as for any child.
 */
import { randomFillSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { availableParallelism } from 'node:os';

import { runAfterForkHooks } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';
import { forkServerAddon, forkServerProblem, type ForkServerAddon } from './forkserver_native.js';
import { CHANNEL_FD } from './prepared.js';

const SIGINT = 2;
/** How long one fork waits for V8's background tasks to pause (then it is tried again a loop turn later). */
const QUIESCE_MS = 20;
/** Exit status of a zygote that cannot serve (the requester falls back to 'spawn'). */
const CANNOT_SERVE = 70;

/** The zygote's addon; a process that cannot be a zygote exits (its requester then uses 'spawn'). */
function zygoteAddon(): ForkServerAddon {
  const addon = forkServerAddon();
  if (addon) return addon;
  process.stderr.write(`posix-mp: the fork server cannot run: ${forkServerProblem()}\n`);
  return binding.exitNow(CANNOT_SERVE);
}

/**
 * The first step of a zygote, before it loads and warms up anything: V8's background tasks go to the fork
 * server's own pool from now on (see native/forkserver/platform_hooks.h).
 */
export function prepareZygote(): void {
  zygoteAddon().hook(Math.min(4, availableParallelism()));
}

/**
 * Serves forks on the control socket (descriptor 3). The returned promise settles only in a forked child,
 * which then has its job channel on descriptor 3; the zygote itself never leaves (it exits when its
 * requester closes the control socket).
 *
 * Each child is forked ahead of its request: a *spare*, which sets itself up as a child (its event loop, its
 * pid, its random numbers) and waits. A request hands the oldest spare its descriptors, and the zygote forks
 * new spares (two are kept) once no request is waiting, so that neither the fork nor that set-up delays a
 * start. The addon does the serving (see native/forkserver/zygote.cc): this JS runs again only in each
 * spare. `addedOptions` are the Node options the zygote was given for itself (see prepared.ts).
 */
export function serveForks(addedOptions: readonly string[]): Promise<void> {
  const addon = zygoteAddon();
  // What each child renews after the fork (its arenas of shared memory, ...) is given up here once already,
  // so that a child has nothing of it to close.
  runAfterForkHooks();
  // Node's getter of process.exitCode, which a child reads as it ends (child.ts), was not compiled when Node
  // booted: read here, it is compiled once instead of in each child (~0.25 ms).
  void process.exitCode;
  // Children compile their new code lazily, as any Node does (the fork server compiled its own eagerly).
  if (addedOptions.includes('--no-lazy')) setFlagsFromString('--lazy');
  binding.signalDisposition(SIGINT, true);
  // A child would inherit a waiter or spawner thread's queue and locks, but not the thread: its first async
  // wait could hang. The zygote runs no JS from here on, so none can start: if one has, it cannot serve (the
  // requester falls back to 'spawn').
  if (binding.backgroundThreadsStarted() !== 0) {
    process.stderr.write('posix-mp: the fork server started a background thread and cannot fork safely\n');
    binding.exitNow(CANNOT_SERVE);
  }
  const zygotePid = process.pid;
  const requesterPid = process.ppid;
  return new Promise((resolve) => {
    addon.serve(CHANNEL_FD, QUIESCE_MS, (socket: number) => {
      becomeChild(addon, zygotePid, requesterPid, addedOptions.length);
      awaitRequest(addon, socket);
      resolve();
    });
  });
}

/**
 * In a spare: waits for its request — blocking, it has nothing else to do — and takes its descriptors. It
 * exits if the zygote goes away first.
 */
function awaitRequest(addon: ForkServerAddon, socket: number): void {
  const message = binding.receiveMessage(socket, 1);
  binding.closeFd(socket);
  if (message === null || message.fds.length !== 3) binding.exitNow(0);
  const [channel, stdout, stderr] = message.fds as [number, number, number];
  addon.place(channel, stdout, stderr);
}

/** Makes a forked child its own process (see the module comment). */
function becomeChild(addon: ForkServerAddon, zygotePid: number, requesterPid: number, addedOptions: number): void {
  Object.defineProperty(process, 'pid', { value: addon.getpid(), enumerable: true, configurable: true, writable: false });
  // The requester, as long as the zygote is the real parent; after the zygote's death, whoever adopted it.
  Object.defineProperty(process, 'ppid', {
    get: () => {
      const parent = addon.getppid();
      return parent === zygotePid ? requesterPid : parent;
    },
    enumerable: true,
    configurable: true,
  });
  // Node's options as the requester's children have them: without those the fork server added for itself.
  process.execArgv.splice(0, addedOptions);
  reseedMathRandom();
  runAfterForkHooks();
  process.on('exit', (code) => addon.setExitCode(code));
}

/** Doubles in [0, 1) drawn per batch: 53 random bits each. */
const BATCH = 256;

/**
 * Math.random's state was copied from the zygote, so every child would draw the same numbers: it is replaced
 * by one drawing from the system's random source (crypto.randomFillSync; OpenSSL reseeds itself after a
 * fork). crypto.randomUUID needs nothing: its cache of random bytes is empty in the zygote, which never uses it.
 */
function reseedMathRandom(): void {
  // Allocated on first use: most children never call it.
  let words: Uint32Array | undefined;
  let batch: Float64Array | undefined;
  let next = BATCH;
  Math.random = function random(): number {
    if (next === BATCH) {
      words ??= new Uint32Array(BATCH * 2);
      batch ??= new Float64Array(BATCH);
      randomFillSync(words);
      for (let i = 0; i < BATCH; i++) batch[i] = ((words[2 * i]! >>> 5) * 67108864 + (words[2 * i + 1]! >>> 6)) / 9007199254740992;
      next = 0;
    }
    return batch![next++]!;
  };
}
