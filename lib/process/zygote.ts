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
import { availableParallelism } from 'node:os';

import { runAfterForkHooks } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';
import { forkServerAddon, forkServerProblem, type ForkServerAddon } from './forkserver_native.js';
import { CHANNEL_FD, ZYGOTE_LARGE_PAGES } from './prepared.js';

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

/** A request's descriptors: the job channel, stdout and stderr. */
type Request = [channel: number, stdout: number, stderr: number];
/** What a spare receives with its request's descriptors. */
const HAND_OVER = Uint8Array.of(1);

/**
 * Serves forks on the control socket (descriptor 3). The returned promise settles only in a forked child,
 * which then has its job channel on descriptor 3; the zygote itself never leaves (it exits when its
 * requester closes the control socket).
 *
 * Each child is forked ahead of its request: a *spare*, which sets itself up as a child (its event loop, its
 * pid, its random numbers) and waits. A request hands the spare its descriptors, and the zygote forks the
 * next spare once no request is waiting, so that neither the fork nor that set-up delays a start.
 */
export function serveForks(): Promise<void> {
  const addon = zygoteAddon();
  binding.signalDisposition(SIGINT, true);
  const zygotePid = process.pid;
  const requesterPid = process.ppid;
  return new Promise((resolve) => {
    /** Received requests, served in order. */
    const queue: Request[] = [];
    /** The spare waiting for a request: its pid, and the zygote's end of its socket. */
    let spare: { pid: number; socket: number } | undefined;
    let serving = false;
    let refillScheduled = false;
    /** True in a spare: the zygote's callbacks that the fork copied are not its own. */
    let inSpare = false;

    /** Forks a spare unless there is one: 'child' in the spare, once it has its request. */
    const forkSpare = (): 'ready' | 'child' | 'busy' | 'failed' => {
      if (spare) return 'ready';
      // A child would inherit a waiter or spawner thread's queue and locks, but not the thread: its first
      // async wait could hang. The zygote never runs a wait; if it ever had, it stops serving (the requester
      // falls back to 'spawn').
      if (binding.backgroundThreadsStarted() !== 0) {
        process.stderr.write('posix-mp: the fork server started a background thread and cannot fork safely\n');
        binding.exitNow(CANNOT_SERVE);
      }
      const [near, far] = binding.socketPair();
      let pid: number;
      try {
        pid = addon.fork(QUIESCE_MS);
      } catch {
        pid = -2; // fork() failed: out of processes or memory
      }
      if (pid === 0) {
        inSpare = true;
        binding.closeFd(near);
        // The requests waiting here are the zygote's business.
        for (const request of queue) for (const fd of request) binding.closeFd(fd);
        becomeChild(addon, zygotePid, requesterPid);
        awaitRequest(addon, far);
        resolve();
        return 'child';
      }
      binding.closeFd(far);
      if (pid < 0) {
        binding.closeFd(near);
        return pid === -1 ? 'busy' : 'failed';
      }
      spare = { pid, socket: near };
      return 'ready';
    };

    /**
     * Gives the request to the spare; false if the spare is known to have died (killed from outside): fork
     * another. Its pid goes to the requester first, before anything the child could send there; the addon
     * keeps the channel until it relays the exit status — which is all the requester learns of a spare that
     * died in the moment between.
     */
    const handOver = (request: Request): boolean => {
      const { pid, socket } = spare!;
      spare = undefined;
      const adopted = addon.adopt(pid, request[0]);
      if (adopted) {
        try {
          binding.sendMessage(socket, HAND_OVER, request);
        } catch {
          // EPIPE: the spare has died; its status is relayed when it is reaped.
        }
      }
      binding.closeFd(socket);
      return adopted;
    };

    const serveNext = (tries: number): void => {
      if (inSpare) return;
      const request = queue[0];
      if (request === undefined) {
        serving = false;
        refillSoon();
        return;
      }
      serving = true;
      const state = forkSpare();
      if (state === 'child') return;
      if (state === 'ready' && handOver(request)) {
        queue.shift();
        binding.closeFd(request[1]);
        binding.closeFd(request[2]);
        serveNext(0);
        return;
      }
      if (state !== 'failed' && tries < MAX_TRIES) {
        setTimeout(() => serveNext(tries + 1), 1);
        return;
      }
      // Refused: closing the channel tells the requester (it starts the process with 'spawn').
      queue.shift();
      for (const fd of request) binding.closeFd(fd);
      serveNext(0);
    };

    /** The next spare is forked once no request waits (a start never waits for it). */
    const refill = (tries: number): void => {
      if (inSpare || serving || spare) return;
      if (forkSpare() === 'busy' && tries < MAX_TRIES) setTimeout(() => refill(tries + 1), 1);
    };
    const refillSoon = (): void => {
      if (refillScheduled) return;
      refillScheduled = true;
      setImmediate(() => {
        refillScheduled = false;
        refill(0);
      });
    };

    const onRequest = (): void => {
      const message = binding.receiveMessage(control, 1);
      // The requester closed the control socket, or died: nothing left to serve.
      if (message === null) binding.exitNow(0);
      if (message.fds.length !== 3) {
        for (const fd of message.fds) binding.closeFd(fd);
        return;
      }
      queue.push(message.fds as Request);
      if (!serving) serveNext(0);
    };
    const control = addon.serve(CHANNEL_FD, onRequest);
    refill(0);
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
  const [channel, stdout, stderr] = message.fds as Request;
  addon.place(channel, stdout, stderr);
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
  // Node's options as the requester's children have them: without the one the fork server added for itself.
  if (process.execArgv[0] === ZYGOTE_LARGE_PAGES) process.execArgv.shift();
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
