/**
 * The 'forkserver' start method, the requesting side: this process's fork server, and the start of a child
 * by it.
 *
 * The fork server is a zygote: a prepared interpreter (`node dist/child.js --posix-mp-zygote`) that, instead
 * of waiting for a job, serves forks (zygote.ts). Its job channel is its control socket. Each start writes
 * the job into a new job channel, sends the zygote one request carrying three descriptors — that channel and
 * this process's stdout and stderr — and waits, for a bounded time, for the child's pid on the channel. The
 * child, forked beforehand and waiting, finds its job there at once; it is then an Interpreter like any
 * other: it reports its exit status on the channel, and the zygote, which reaps it, relays the status there
 * too (exit code or signal, see ChildWatches::AddForked).
 *
 * The zygote is started on first use, never keeps this process's event loop alive, dies with this process
 * (PR_SET_PDEATHSIG) and when this process closes the control socket; if it dies it is started again at the
 * next start. A start never hangs on it: without a reply in time the zygote is killed and the start falls
 * back to 'spawn'; after repeated failures this process stops using it.
 */
import type { PassedFile } from '../comm/reduction.js';
import { invalidArgType } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { forkServerAddon } from './forkserver_native.js';
import { sendJob } from './job.js';
import { bootFingerprint, Interpreter } from './prepared.js';
import { callerModule, resolveModule } from './target.js';

/** The argument that makes dist/child.js a zygote (see child.ts). */
export const ZYGOTE_ARG = '--posix-mp-zygote';

const SIGKILL = 9;
/** A fork request: one byte; its descriptors are the job channel, stdout and stderr. */
const REQUEST = Uint8Array.of(1);
/**
 * How long a start waits for the zygote's reply. A fork takes milliseconds; a zygote that is still booting
 * (the first start) takes as long as a Node boot, seconds on a loaded machine.
 */
const REPLY_TIMEOUT_MS = 15_000;
/** Consecutive failed starts after which this process stops using the fork server. */
const MAX_FAILURES = 3;

class ForkServer {
  #zygote: Interpreter | undefined;
  #failures = 0;
  /** The modules a new zygote imports before it serves (setForkserverPreload), as URLs. */
  preload: readonly string[] = [];
  /** Those the running zygote imported. */
  #preloaded: readonly string[] = [];

  constructor() {
    // Closing the control socket ends the zygote at once (in a worker_thread that ends, say).
    process.once('exit', () => this.#stop());
  }

  fork(daemon: boolean, job: Buffer, files: readonly PassedFile[]): Interpreter | undefined {
    const addon = forkServerAddon();
    if (!addon || this.#failures >= MAX_FAILURES) return undefined;
    const zygote = this.#running();
    if (!zygote) return undefined;
    const [ours, theirs] = binding.socketPair();
    let pid = 0;
    try {
      // Before the request: the child reads it as soon as it has its channel, without waiting for us.
      sendJob(ours, job, files);
      try {
        binding.sendMessage(zygote.channel!, REQUEST, [theirs, 1, 2]);
      } finally {
        // Now only the zygote holds it: if the zygote refuses or dies, our end reads EOF at once.
        binding.closeFd(theirs);
      }
      if (addon.waitReadable(ours, REPLY_TIMEOUT_MS)) pid = receivePid(ours);
    } catch {
      // The zygote died (EPIPE), or this process is out of descriptors or memory: counted as a failure below.
    }
    if (pid <= 0) {
      // No reply in time, or the zygote closed the channel: it could not fork, or it is broken.
      binding.closeFd(ours);
      this.#failures++;
      zygote.signal(SIGKILL);
      this.#stop();
      return undefined;
    }
    this.#failures = 0;
    // Its death signal is set by the child itself from its job (child.ts), relative to the zygote, which
    // dies with this process.
    return new Interpreter(0, !daemon, { pid, channel: ours });
  }

  /**
   * The zygote, started if there is none, or if this process's Node boot variables or the modules to
   * preload changed since.
   */
  #running(): Interpreter | undefined {
    const current = this.#zygote;
    if (current && !current.waitSync(0) && current.fingerprint === bootFingerprint() && same(this.#preloaded, this.preload)) return current;
    this.#stop();
    let zygote: Interpreter;
    try {
      zygote = new Interpreter(SIGKILL, false, { preload: this.preload });
      this.#preloaded = this.preload;
    } catch {
      this.#failures++;
      return undefined;
    }
    zygote.onExit = () => {
      if (this.#zygote === zygote) this.#zygote = undefined;
    };
    this.#zygote = zygote;
    return zygote;
  }

  #stop(): void {
    this.#zygote?.dismiss();
    this.#zygote = undefined;
  }
}

/** The zygote's reply on a job channel: the child's pid, or 0 if the zygote closed the channel instead. */
function receivePid(channel: number): number {
  let reply: ReturnType<typeof binding.receiveMessage>;
  try {
    reply = binding.receiveMessage(channel, 4);
  } catch (error) {
    // ECONNRESET, once: the spare had died, and the zygote closed its end of the channel, our job unread in
    // it, right after the pid and the relayed status; the error comes before what is queued.
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    reply = binding.receiveMessage(channel, 4);
  }
  return reply !== null && reply.bytes.length === 4 ? reply.bytes.readInt32LE(0) : 0;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((module, i) => module === b[i]);
}

const SERVER = Symbol.for('posix-mp.forkserver');

/** One fork server per process (per worker_thread), shared by the ESM and CommonJS copies of the package. */
function server(): ForkServer {
  const g = globalThis as { [SERVER]?: ForkServer };
  return (g[SERVER] ??= new ForkServer());
}

/**
 * Sets the modules the fork server imports before it serves (Python's `set_forkserver_preload()`): its
 * children find them loaded, so a child takes its target's module from the module cache it inherited instead
 * of reading and compiling it (~1–2 ms of a start). Each is a
 * path, a file: URL or a package, resolved like a target's `{ module }` (relative to the calling module). They
 * are imported as a child imports its target's module — `isMainProcess()` is false then, and starting a
 * process throws — so the main module may be listed if its own start-up is guarded as a child's must be. One
 * that fails to import is left out (its children import it themselves and report the error). What the
 * modules do when imported is inherited by every child: they should only define things (no timers, servers
 * or open handles). Takes effect for the next start: a running fork server with another list is replaced.
 */
export function setForkserverPreload(modules: readonly (string | URL)[]): void {
  if (!Array.isArray(modules)) throw invalidArgType('modules', 'an array', modules);
  const origin = callerModule();
  server().preload = modules.map((module, i) => {
    if (typeof module !== 'string' && !(module instanceof URL)) throw invalidArgType(`modules[${i}]`, 'of type string or an instance of URL', module);
    return resolveModule(module, origin);
  });
}

/**
 * A child forked by this process's fork server, its job sent, or undefined if the fork server cannot start
 * one now.
 */
export function forkFromServer(daemon: boolean, job: Buffer, files: readonly PassedFile[]): Interpreter | undefined {
  return server().fork(daemon, job, files);
}
