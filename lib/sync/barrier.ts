/**
 * Barrier (Python's `multiprocessing.Barrier`): CPython's `threading.Barrier` algorithm — states filling,
 * draining, resetting and broken, and a count of the parties inside `wait()` — on fields in shared memory
 * (`pmp_barrier` in native/include/posix_mp.h), guarded by a Lock and a Condition stored in the same object.
 */
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { closedError, invalidArgType, mpError } from '../internal/errors.js';
import { LAYOUT } from '../internal/layout.js';
import { validateInteger, validateOptions, validateTimeout } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type ParsedAsyncWait, type SyncWaitOptions } from '../internal/wait.js';
import { RECEIVED, receivedDescription, type SharedDescription } from '../comm/reduction.js';
import { openSegment, registerHandle, SharedHandle } from '../shared/handle.js';
import { OPEN_EXISTING, openExisting, type InternalNameOptions, type NameOptions } from '../shared/names.js';
import { Kind } from '../shared/segment.js';
import { ConditionCore } from './condition.js';
import { Lock } from './lock.js';

const BARRIER = LAYOUT.pmp_barrier;
/** pmp_barrier.state and .count, as an Int32Array from pmp_barrier.state. */
const STATE = 0;
const COUNT = (BARRIER.count - BARRIER.state) / 4;
// pmp_barrier.state: CPython's _state values.
const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;

/**
 * Thrown (rejected) by `Barrier.wait` when the barrier is broken — by `abort()`, by a wait that timed out or
 * was aborted, or by an `action` that threw — or is reset while the wait is in progress.
 * `code: 'ERR_MP_BROKEN_BARRIER'`.
 */
export class BrokenBarrierError extends Error {
  /** Always `'ERR_MP_BROKEN_BARRIER'`. */
  readonly code = 'ERR_MP_BROKEN_BARRIER';

  constructor(message = 'the barrier is broken') {
    super(message);
    this.name = 'BrokenBarrierError';
  }
}

/** The per-handle behaviour of a Barrier: each process gives its own. */
export interface BarrierBehaviour {
  /** Called, synchronously, by the party whose arrival releases the others (in its process). */
  action?: () => void;
  /** Default timeout of `wait` in milliseconds (default: none). */
  timeout?: number;
}

/** Options of the Barrier constructor. */
export interface BarrierOptions extends NameOptions, BarrierBehaviour {}

/**
 * A barrier for a fixed number of parties, in any processes (Python's `multiprocessing.Barrier`). Each
 * `wait()` blocks until `parties` waits are in progress, then all return; each gets a distinct index
 * 0..parties-1 (its arrival order: exactly one gets 0). The barrier is then ready for the next round.
 *
 * `action` and `timeout` belong to the handle, not the shared object (a function cannot be shared): the
 * action runs in the process whose arrival released the barrier, if that handle has one. A wait that times
 * out, or is aborted through its signal, breaks the barrier (as in Python, where a timeout does): every
 * pending and later wait throws {@link BrokenBarrierError} until `reset()`. Closing a handle while waits on it
 * are pending breaks the barrier the same way; those waits reject with `ERR_MP_CLOSED`. A process that dies
 * inside `wait()` leaves the barrier counting it: the others time out (if they gave a timeout) and break it,
 * and it cannot be reset until that round's count drains — create a new one.
 *
 * Passed to a child process (as a Process argument), a Barrier arrives with this handle's default timeout and
 * action, as in Python: the action travels as functions do, by reference, so it must be exported by the module
 * that defines it (passing the Barrier is refused otherwise, saying what to export). A round released by a
 * party whose handle has no action runs none, even if other parties' handles have one.
 *
 * `reset()` and `abort()` are synchronous, as in Python: they block the thread while they take the barrier's
 * internal lock, which parties hold only for their bookkeeping. Like any process-owned {@link Lock} taken
 * synchronously, that lock cannot be taken while this very process's async `wait()` has just been granted it
 * and has not yet resumed; call them from code that is not racing its own pending waits, or from another
 * process.
 */
export class Barrier extends SharedHandle {
  /** The number of parties needed to pass the barrier. */
  readonly parties: number;
  readonly #lock: Lock;
  readonly #cond: ConditionCore;
  readonly #fields: Int32Array;
  readonly #action: (() => void) | undefined;
  /** Default timeout in the addon's encoding (-1 = none). */
  readonly #timeoutMs: number;

  /**
   * @param parties the number of parties (an integer >= 1); when opening an existing named barrier it must
   *   match (`code: 'ERR_MP_MISMATCH'`).
   * @param options `{ name }` opens or creates a named Barrier; `action` and `timeout` as in Python.
   */
  constructor(parties: number, options?: BarrierOptions) {
    const o = validateOptions<BarrierOptions & InternalNameOptions>(options);
    // Passed by a parent process (reduction.ts): the Barrier's memory came with the job; parties come from it.
    const received = receivedDescription(options);
    const openOnly = o[OPEN_EXISTING] === true || received !== undefined;
    if (!openOnly) validateInteger(parties, 'parties', 1, 0x7fffffff);
    if (o.action !== undefined && typeof o.action !== 'function') {
      throw invalidArgType('options.action', 'of type function', o.action);
    }
    const timeoutMs = validateTimeout(o.timeout);
    const segment = openSegment({ kind: Kind.Barrier, payloadSize: BARRIER.sizeof, params: [parties, 0] }, options);
    const actual = segment.params[0];
    if (!openOnly && actual !== parties) {
      segment.close();
      throw mpError('ERR_MP_MISMATCH', `Barrier '${segment.name}' exists with ${actual} parties, not ${parties}`);
    }
    super('Barrier', segment.name, segment);
    this.#timeoutMs = timeoutMs;
    this.#action = o.action;
    this.parties = actual;
    this.#lock = new Lock(Lock.embeddedOptions(segment, segment.payloadOffset));
    this.#cond = new ConditionCore(segment.buffer, segment.payloadOffset + BARRIER.cond_state, 'Barrier', this.pending);
    this.#fields = new Int32Array(segment.buffer, segment.payloadOffset + BARRIER.state, 2);
  }

  /**
   * Opens an existing named Barrier (`code: 'ENOENT'` if there is none); its number of parties comes from the
   * object. `behaviour` gives this handle an action and a default timeout.
   */
  static open(name: string, behaviour?: BarrierBehaviour): Barrier {
    const b = validateOptions<BarrierBehaviour>(behaviour, 'behaviour');
    return new Barrier(0, { ...openExisting(name), action: b.action, timeout: b.timeout } as BarrierOptions);
  }

  /**
   * Waits until all parties have called `wait`, without blocking the event loop. Resolves with this party's
   * index (0..parties-1); rejects with {@link BrokenBarrierError} if the barrier is or becomes broken, or
   * the timeout (default: the constructor's) passes — which breaks it.
   */
  async wait(options?: AsyncWaitOptions): Promise<number> {
    this.assertOpen();
    const wait = this.#withDefaultTimeout(parseAsyncWait(options), options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    return this.track(async () => {
      await this.#lock.acquire({ signal: wait.signal });
      try {
        if (this.closed) throw closedError('Barrier');
        // _enter: block while the barrier drains or resets — within the timeout, which covers both phases.
        const deadline = deadlineOf(wait.timeoutMs);
        while (this.#state === DRAINING || this.#state === RESETTING) {
          const entered = await this.#cond.wait(this.#lock, { timeoutMs: remainingMs(deadline), signal: wait.signal });
          if (!entered && (this.#state === DRAINING || this.#state === RESETTING)) this.#enterTimedOut();
        }
        if (this.#state < 0) throw new BrokenBarrierError();
        const index = this.#count;
        this.#count = index + 1;
        try {
          if (index + 1 === this.parties) {
            this.#release();
          } else {
            let passed: boolean;
            try {
              const timeoutMs = remainingMs(deadline);
              passed = await this.#cond.waitFor(this.#lock, () => this.#state !== FILLING, { timeoutMs, signal: wait.signal });
            } catch (error) {
              // Aborted or closed: this party is leaving, so the others could never pass.
              this.#break();
              throw error;
            }
            this.#afterWait(passed);
          }
          return index;
        } finally {
          this.#exit();
        }
      } finally {
        this.#lock.release();
      }
    });
  }

  /** Blocking form of {@link wait}. */
  waitSync(options?: SyncWaitOptions): number {
    this.assertOpen();
    const given = parseSyncWait(options);
    const timeoutMs = (options as SyncWaitOptions | undefined)?.timeout === undefined ? this.#timeoutMs : given;
    this.#lock.acquireSync();
    try {
      const deadline = deadlineOf(timeoutMs);
      while (this.#state === DRAINING || this.#state === RESETTING) {
        const entered = this.#cond.waitSync(this.#lock, remainingMs(deadline));
        if (!entered && (this.#state === DRAINING || this.#state === RESETTING)) this.#enterTimedOut();
      }
      if (this.#state < 0) throw new BrokenBarrierError();
      const index = this.#count;
      this.#count = index + 1;
      try {
        if (index + 1 === this.parties) this.#release();
        else this.#afterWait(this.#cond.waitForSync(this.#lock, () => this.#state !== FILLING, remainingMs(deadline)));
        return index;
      } finally {
        this.#exit();
      }
    } finally {
      this.#lock.release();
    }
  }

  /**
   * Returns the barrier to its initial state. Waits in progress throw {@link BrokenBarrierError}; the
   * barrier is usable again once they have left.
   */
  reset(): void {
    this.assertOpen();
    this.#lock.acquireSync();
    try {
      if (this.#count > 0) {
        // Waits in progress leave first: the last one to leave returns it to filling (#exit).
        if (this.#state === FILLING || this.#state === BROKEN) this.#state = RESETTING;
      } else {
        this.#state = FILLING;
      }
      this.#cond.notifyAll();
    } finally {
      this.#lock.release();
    }
  }

  /** Breaks the barrier: pending and later waits throw {@link BrokenBarrierError} until `reset()`. */
  abort(): void {
    this.assertOpen();
    this.#lock.acquireSync();
    try {
      this.#break();
    } finally {
      this.#lock.release();
    }
  }

  /** How many parties are waiting in the current round (a snapshot). */
  get nWaiting(): number {
    this.assertOpen();
    return Atomics.load(this.#fields, STATE) === FILLING ? Atomics.load(this.#fields, COUNT) : 0;
  }

  /** Whether the barrier is broken (a snapshot). */
  get broken(): boolean {
    this.assertOpen();
    return Atomics.load(this.#fields, STATE) === BROKEN;
  }

  /**
   * The timeout ran out while the previous round was still draining or resetting (a party of it never left —
   * e.g. its process died inside `wait()`): as a timeout in the round itself does, it breaks the barrier.
   */
  #enterTimedOut(): never {
    this.#break();
    throw new BrokenBarrierError();
  }

  /** The options' timeout, or this handle's default when they give none. */
  #withDefaultTimeout(wait: ParsedAsyncWait, options: unknown): ParsedAsyncWait {
    const given = (options as AsyncWaitOptions | undefined)?.timeout;
    return given === undefined ? { timeoutMs: this.#timeoutMs, signal: wait.signal } : wait;
  }

  // The fields below are only touched holding the lock; Atomics make the other processes' writes visible.
  get #state(): number {
    return Atomics.load(this.#fields, STATE);
  }

  set #state(value: number) {
    Atomics.store(this.#fields, STATE, value);
  }

  get #count(): number {
    return Atomics.load(this.#fields, COUNT);
  }

  set #count(value: number) {
    Atomics.store(this.#fields, COUNT, value);
  }

  /** _release: the last party runs the action and lets everyone through. */
  #release(): void {
    try {
      this.#action?.();
      this.#state = DRAINING;
      this.#cond.notifyAll();
    } catch (error) {
      this.#break();
      throw error;
    }
  }

  /** The rest of CPython's _wait, once the wait for "not filling" returned. */
  #afterWait(passed: boolean): void {
    if (!passed) {
      this.#break();
      throw new BrokenBarrierError('the barrier wait timed out (the barrier is now broken)');
    }
    if (this.#state < 0) throw new BrokenBarrierError();
  }

  /** _exit: the last party to leave a draining or resetting barrier makes it ready for the next round. */
  #exit(): void {
    this.#count = this.#count - 1;
    if (this.#count === 0 && (this.#state === RESETTING || this.#state === DRAINING)) {
      this.#state = FILLING;
      this.#cond.notifyAll();
    }
  }

  /** _break. */
  #break(): void {
    this.#state = BROKEN;
    this.#cond.notifyAll();
  }

  /**
   * @internal Pending waits have left the barrier (under its lock, in this memory) before they rejected; the
   * lock's cancelled acquires report back through it too.
   */
  protected override free(): void {
    this.#lock.close();
    this.#lock.afterNativeWaits(() => super.free());
  }

  /** @internal The default timeout and the action (by reference) go along. */
  protected override describe(): SharedDescription {
    const timeout = this.#timeoutMs < 0 ? undefined : this.#timeoutMs;
    return { ...super.describe(), params: { timeout, action: this.#action } };
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { parties: this.parties, nWaiting: this.nWaiting, broken: this.broken };
  }

  static {
    registerHandle('Barrier', Barrier, (d) => {
      const { timeout, action } = d.params as BarrierBehaviour;
      return d.memory
        ? new Barrier(0, { [RECEIVED]: d, timeout, action } as BarrierOptions)
        : Barrier.open(d.name, { timeout, action });
    });
  }
}
