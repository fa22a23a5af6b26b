/**
 * What SharedList and SharedDict share: their memory (heap.ts) in a file of its own — a named shm object, or
 * an anonymous memfd passed to children like any anonymous object — the robust lock every operation holds,
 * the async form of every operation, and how handles to them are revived in other processes.
 *
 * Async forms. `xAsync(...args, options?)` runs the synchronous `x(...args)` at once if the lock is free;
 * else it sleeps on the lock word on a waiter thread (the futex of the pmp_lock protocol, with the
 * WAITERS bit set so that the releaser wakes it, and a re-check every PMP_LIVENESS_MS for a dead holder) and
 * tries again. The JS thread takes the lock and runs the operation in one turn of the event loop: a lock
 * taken by a waiter thread would stay held until its result reached JS, and a synchronous operation on the
 * same container in between would wait for it forever. Each form is generated from a table of the class's
 * methods and their arities (`asyncForms`), so that the options are told apart from optional arguments.
 */
import { mpError } from '../internal/errors.js';
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { LAYOUT } from '../internal/layout.js';
import { Lock } from '../sync/lock.js';
import { binding, OpenMode, WaitStatus } from '../internal/native.js';
import { parseAsyncWait, type AsyncWaitOptions } from '../internal/wait.js';
import { openSegment, SharedHandle } from '../shared/handle.js';
import { HEADER_SIZE, type Kind } from '../shared/segment.js';
import { Heap, INITIAL_SIZE, Txn } from './heap.js';

const LIVENESS_MS = LAYOUT.constants.PMP_LIVENESS_MS;
/** Try to take the lock without waiting. */
const NO_WAIT = { timeout: 0 };

/** How `locked()` takes the lock: waiting (synchronous forms), or only if free (an async form's attempt). */
const enum Taking {
  Wait,
  /** The operation's first `locked()` call: nothing is changed yet, so the operation can start over later. */
  First,
  /** A later call: it waits, unless the operation can start over from there (`restartable`). */
  Later,
}

/** Thrown by `locked()` in an async form's attempt when the lock is held: the attempt starts over later. */
const BUSY: unique symbol = Symbol('posix-mp.busy');

/**
 * The async forms of a container's operations `M` (methods and getters of `C`): `xAsync(...args, options?)`
 * returns a promise of what `x(...args)` returns.
 */
export type AsyncForms<C, M extends keyof C & string> = {
  [K in M as `${K}Async`]: C[K] extends (...args: infer A) => infer R
    ? (...args: [...A, options?: AsyncWaitOptions]) => Promise<R>
    : (options?: AsyncWaitOptions) => Promise<C[K]>;
};

/** The base of SharedList and SharedDict. */
export abstract class SharedContainer extends SharedHandle {
  /** @internal */
  protected readonly heap: Heap;
  /** @internal Whether this handle created the container (and so fills it with the initial items). */
  protected readonly created: boolean;
  readonly #lock: Lock;
  /** A named container's own descriptor (growth needs one); an anonymous one uses its memfd's. */
  readonly #fd: number | undefined;
  #taking = Taking.Wait;

  /** @internal */
  protected constructor(what: string, kind: Kind, options: unknown) {
    // A payload this large gets a memory file of its own when anonymous (arena.ts), which growth needs.
    const segment = openSegment(
      {
        kind,
        payloadSize: INITIAL_SIZE - HEADER_SIZE,
        init: (s) => Heap.initialise(new Uint32Array(s.buffer, s.headerOffset, 64)),
      },
      options,
    );
    super(what, segment.name, segment);
    this.created = segment.created;
    let fd: number | undefined;
    try {
      if (segment.block && segment.block.offset !== 0) throw new Error('posix-mp: internal error: a container in an arena');
      fd = segment.block ? undefined : binding.shmOpen(`/${segment.name}`, OpenMode.Open, 0).fd;
      this.#fd = fd;
      this.heap = new Heap(fd ?? segment.block!.file.fd);
    } catch (error) {
      if (fd !== undefined) binding.closeFd(fd);
      segment.close();
      throw error;
    }
    this.#lock = new Lock(Lock.embeddedOptions(segment, segment.payloadOffset));
    if (!segment.anonymous) remember(this);
  }

  /**
   * @internal Defines the async form of each operation of `arities` (a method's number of parameters, 0 for
   * a getter) on this class's prototype: see the module comment.
   */
  protected static asyncForms(this: abstract new (...args: never[]) => SharedContainer, arities: Record<string, number>): void {
    for (const [name, arity] of Object.entries(arities)) {
      const form = function (this: SharedContainer, ...args: unknown[]): Promise<unknown> {
        const options = args.length > arity ? args[arity] : undefined;
        if (args.length > arity) args.length = arity;
        return this.#runAsync(() => {
          const member: unknown = Reflect.get(this, name);
          return typeof member === 'function' ? (member as (...a: unknown[]) => unknown).apply(this, args) : member;
        }, options);
      };
      Object.defineProperty(form, 'name', { value: `${name}Async` });
      Object.defineProperty(this.prototype, `${name}Async`, { value: form, writable: true, configurable: true });
    }
  }

  /**
   * @internal Runs `fn` holding the container's lock, after finishing any operation a process killed while
   * holding it had committed. `fn` commits its own Txn; if it throws before, nothing changed. `restartable`:
   * in an async form, the operation can start over from this call (it changed nothing before it).
   */
  protected locked<T>(fn: (txn: Txn) => T, restartable = false): T {
    if (this.closed) throw this.closedError();
    const lock = this.#lock;
    const taking = this.#taking;
    if (taking === Taking.Wait) lock.acquireSync();
    else if (taking === Taking.First || restartable) {
      if (!lock.acquireSync(NO_WAIT)) throw BUSY;
      // From here on the operation may change the container: later calls wait, unless restartable.
      this.#taking = Taking.Later;
    } else lock.acquireSync();
    try {
      this.heap.enter();
      return fn(new Txn(this.heap));
    } finally {
      lock.release();
    }
  }

  /**
   * Runs `op` (a synchronous operation) now if the lock is free, else as soon as it is, without blocking the
   * event loop; rejects with `ERR_MP_TIMEOUT` after `timeout` ms, with the signal's reason on abort, with
   * `ERR_MP_CLOSED` if the handle is closed meanwhile.
   */
  async #runAsync<T>(op: () => T, options: unknown): Promise<T> {
    const wait = parseAsyncWait(options);
    const deadline = deadlineOf(wait.timeoutMs);
    for (let woken = false; ; ) {
      if (wait.signal?.aborted) throw wait.signal.reason;
      const outer = this.#taking;
      this.#taking = Taking.First;
      try {
        return op();
      } catch (error) {
        if (error !== BUSY) throw error;
      } finally {
        this.#taking = outer;
        // A release woke this wait rather than another sleeper: pass the wake on, taken or not.
        if (woken) this.#lock.wakeOne();
      }
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) throw mpError('ERR_MP_TIMEOUT', `the lock of ${this.name} was held for the whole timeout`);
      woken = (await this.#whileHeld(timeoutMs, wait.signal)) === WaitStatus.Ok;
    }
  }

  /**
   * Sleeps (on a waiter thread) while the lock is held, for at most `timeoutMs` and PMP_LIVENESS_MS: a holder
   * that died releases nothing, and the next attempt (pmp_lock_try) takes its lock over.
   */
  async #whileHeld(timeoutMs: number, signal: AbortSignal | undefined): Promise<WaitStatus> {
    const target = this.#lock.sleepTarget();
    if (!target) return WaitStatus.NotEqual;
    const { futex, index, expected } = target;
    const slice = timeoutMs < 0 ? LIVENESS_MS : Math.min(timeoutMs, LIVENESS_MS);
    const status = await this.pending.run((t, cb) => binding.futexWaitAsync(futex, index, expected, t, cb), { timeoutMs: slice, signal }, 'futex');
    // close() may have run while the result travelled: the memory is no longer ours to read.
    if (this.closed) throw this.closedError();
    return status;
  }

  /** @internal The lock goes with the mapping; a named container's descriptor is closed. */
  protected override free(): void {
    if (handles.get(this.name) === this) handles.delete(this.name);
    this.#lock.close();
    this.heap.close();
    if (this.#fd !== undefined) binding.closeFd(this.#fd);
    super.free();
  }
}

/** An open handle of this process to each named container it has used (see `revived`). */
const handles = new Map<string, SharedHandle>();

/** Makes `handle` the one `revived` returns for its name, unless an open one is there already. */
function remember(handle: SharedHandle): void {
  const known = handles.get(handle.name);
  if (known && !known.closed) return;
  handles.set(handle.name, handle);
}

/**
 * The handle to the named container `name` for a value read from another container (or a message): the
 * handle this process already has open — the one it created or opened, so `d.get('list') === list` — else a
 * new one, kept for the next read, so that reading `d.get('list')` in a loop does not open a file each time.
 * Closing it closes it for every holder in this process; the next read opens it again.
 * @internal
 */
export function revived<T extends SharedHandle>(name: string, open: (name: string) => T): T {
  const known = handles.get(name);
  return known && !known.closed ? (known as T) : open(name);
}
