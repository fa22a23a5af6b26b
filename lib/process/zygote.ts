/**
 * The 'forkserver' start method, the serving side: what a zygote does (see forkserver.ts), and what a child
 * forked from it does before it continues as a prepared interpreter.
 *
 * The zygote has booted like a prepared interpreter (child.ts: posix-mp loaded, module loader warmed up, no
 * user code). It then hooks the Node platform (native/forkserver/), ignores SIGINT (a Ctrl-C for its owner's
 * process group is its owner's business; the owner's death kills it) and waits on its control socket. Each
 * request is served by a fork; the child leaves the zygote's code with its job channel on descriptor 3 and
 * becomes a full citizen of its own: its pid and parent pid, its random numbers, no descriptor or handle of
 * the zygote's. Its environment, working directory and argv come with its job, as for any child.
 */
import { randomFillSync } from 'node:crypto';
import { availableParallelism } from 'node:os';

import { runAfterForkHooks } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';
import { forkServerAddon, forkServerProblem, type ForkServerAddon } from './forkserver_native.js';
import { CHANNEL_FD } from './prepared.js';

const SIGINT = 2;
/** How long one fork waits for V8's background tasks to pause. */
const QUIESCE_MS = 20;
/**
 * How many times a fork is tried, a turn of the event loop apart, before the request is refused: a
 * background task may wait for the main thread (a V8 job joining it), which then must run its loop.
 */
const MAX_TRIES = 100;
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
 */
export function serveForks(): Promise<void> {
  const addon = zygoteAddon();
  binding.signalDisposition(SIGINT, true);
  const zygotePid = process.pid;
  const requesterPid = process.ppid;
  return new Promise((resolve) => {
    /** Received requests, served in order: [job channel, stdout, stderr] each. */
    const queue: number[][] = [];
    let serving = false;
    const serveNext = (tries: number): void => {
      const request = queue[0];
      if (request === undefined) {
        serving = false;
        return;
      }
      serving = true;
      const [channel, stdout, stderr] = request as [number, number, number];
      // A child would inherit a waiter or spawner thread's queue and locks, but not the thread: its first
      // async wait could hang. The zygote never runs a wait; if it ever had, it stops serving (the requester
      // falls back to 'spawn').
      if (binding.backgroundThreadsStarted() !== 0) {
        process.stderr.write('posix-mp: the fork server started a background thread and cannot fork safely\n');
        binding.exitNow(CANNOT_SERVE);
      }
      let pid: number;
      try {
        pid = addon.fork(channel, stdout, stderr, QUIESCE_MS);
      } catch {
        pid = -2; // fork() failed: out of processes or memory
      }
      if (pid === 0) {
        // The child: other queued requests are its siblings'.
        for (const other of queue.slice(1)) for (const fd of other) binding.closeFd(fd);
        becomeChild(addon, zygotePid, requesterPid);
        resolve();
        return;
      }
      if (pid === -1 && tries < MAX_TRIES) {
        setTimeout(() => serveNext(tries + 1), 1);
        return;
      }
      queue.shift();
      binding.closeFd(stdout);
      binding.closeFd(stderr);
      // Refused: closing the channel tells the requester (it starts the process with 'spawn'). Otherwise
      // the addon has sent the pid and keeps the channel until it relays the child's exit status.
      if (pid < 0) binding.closeFd(channel);
      serveNext(0);
    };
    const onRequest = (): void => {
      const message = binding.receiveMessage(control, 1);
      // The requester closed the control socket, or died: nothing left to serve.
      if (message === null) binding.exitNow(0);
      if (message.fds.length !== 3) {
        for (const fd of message.fds) binding.closeFd(fd);
        return;
      }
      queue.push(message.fds);
      if (!serving) serveNext(0);
    };
    const control = addon.serve(CHANNEL_FD, onRequest);
  });
}

/** Makes a forked child its own process (see the module comment). */
function becomeChild(addon: ForkServerAddon, zygotePid: number, requesterPid: number): void {
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
  const words = new Uint32Array(BATCH * 2);
  const batch = new Float64Array(BATCH);
  let next = BATCH;
  Math.random = function random(): number {
    if (next === BATCH) {
      randomFillSync(words);
      for (let i = 0; i < BATCH; i++) batch[i] = ((words[2 * i]! >>> 5) * 67108864 + (words[2 * i + 1]! >>> 6)) / 9007199254740992;
      next = 0;
    }
    return batch[next++]!;
  };
}
