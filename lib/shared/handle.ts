/**
 * SharedHandle: what every shared-object class (Lock, RLock, Semaphore, Event, Condition, Barrier, Value,
 * Array, SharedMemory) is as a handle in this process — its name, its closed state, `close()` that rejects
 * pending async waits and frees the memory only once the native waits on it have returned, `unlink()`,
 * `Symbol.dispose`, its inspect output, and how it travels to child processes (reduction.ts).
 *
 * A class passes its Segment (if it owns one) to the constructor and overrides only what differs: `closing()`
 * (what stops at once), `free()` (what goes once nothing uses the memory), `unlink()`, `describe()` (what
 * travels) and `inspectDetails()`. It registers itself for transfer with {@link registerHandle} (or
 * {@link registerOpenable}). Below this class's prototype sits the trap that gives Array `arr[i]`
 * (indexing.ts): only lookups that miss every class prototype reach it.
 */
import { inspect, type InspectOptions } from 'node:util';

import { closedError } from '../internal/errors.js';
import { InFlight } from '../internal/in_flight.js';
import { PendingWaits } from '../internal/wait.js';
import { RECEIVED, receivedDescription, registerTransfer, type SharedDescription } from '../comm/reduction.js';
import { parseNameOptions } from './names.js';
import { Segment, type SegmentSpec } from './segment.js';

/** A handle's transfer description; set in SharedHandle's static block (which may call `describe`). */
let describeHandle: (handle: SharedHandle) => SharedDescription;

/** The base of every shared-object class: see the module comment. */
export abstract class SharedHandle {
  /** The name other processes open (generated for an anonymous object). */
  readonly name: string;
  // A data property rather than a getter: hot paths test it themselves (`if (this.closed) throw
  // this.closedError()`), so that their inline caches see one class each; a shared method reading it would see
  // every class's objects and turn megamorphic.
  /** Whether `close()` has been called. */
  readonly closed: boolean = false;
  /** For error messages: 'Lock', 'Array', ... */
  readonly #what: string;
  /** The memory this handle owns, closed by `free()` and removed by `unlink()`. */
  readonly #segment: Segment | undefined;
  /** Async operations that use the memory after their last native wait (see `track`); created on first use. */
  #inFlight: InFlight | undefined;
  /** @internal The native waits started through this handle: `close()` cancels them and waits for them. */
  protected readonly pending = new PendingWaits();

  /**
   * @param what the class's name in error messages
   * @param name the object's name
   * @param segment the memory this handle owns, if it owns a Segment
   */
  protected constructor(what: string, name: string, segment?: Segment) {
    this.#what = what;
    this.name = name;
    this.#segment = segment;
  }

  /** @internal Throws `ERR_MP_CLOSED` once the handle is closed. */
  protected assertOpen(): void {
    if (this.closed) throw closedError(this.#what);
  }

  /** @internal The `ERR_MP_CLOSED` error of this handle. */
  protected closedError(): Error {
    return closedError(this.#what);
  }

  /** @internal Runs an async operation that `close()` lets finish before it frees the memory. */
  protected track<T>(op: () => Promise<T>): Promise<T> {
    return (this.#inFlight ??= new InFlight()).run(op);
  }

  /**
   * Releases this process's handle: pending async waits reject with `ERR_MP_CLOSED`, and the memory is
   * unmapped at once — or, while a native wait on it is still returning, as soon as it has.
   */
  close(): void {
    if (this.closed) return;
    (this as { closed: boolean }).closed = true;
    this.pending.cancelAll(this.#what);
    this.closing();
    const free = (): void => this.pending.afterNativeWaits(() => this.free());
    if (this.#inFlight) this.#inFlight.whenIdle(free);
    else free();
  }

  /** @internal What stops at once on `close()`, before pending operations have finished. */
  protected closing(): void {}

  /** @internal Frees the memory, once no native wait or tracked operation of this handle uses it. */
  protected free(): void {
    this.#segment?.close();
  }

  /**
   * @internal Runs `fn` once no native wait started through this handle is outstanding: an object whose
   * memory holds this handle's (a Value's lock) frees it through this.
   */
  afterNativeWaits(fn: () => void): void {
    this.pending.afterNativeWaits(fn);
  }

  /** Removes a named object from the system; processes that have it open keep using it. No-op when anonymous. */
  unlink(): void {
    this.#segment?.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Lock { name: 'x', closed: false }` in console.log, plus what the class adds while open. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    const fields = { name: this.name, closed: this.closed, ...(this.closed ? {} : this.inspectDetails()) };
    return `${this.constructor.name} ${inspect(fields, options)}`;
  }

  /** @internal More fields for the inspect output of an open handle (read without any lock). */
  protected inspectDetails(): Record<string, unknown> {
    return {};
  }

  /** @internal What another process needs to open the object: by name, or with its memory if anonymous. */
  protected describe(): SharedDescription {
    return { name: this.name, memory: this.#segment?.block };
  }

  static {
    describeHandle = (handle) => {
      handle.assertOpen();
      return handle.describe();
    };
  }
}

/**
 * Registers a SharedHandle class for passing to child processes (reduction.ts): described by its `describe()`
 * (ERR_MP_CLOSED once closed), rebuilt in the child by `revive`.
 * @internal
 */
export function registerHandle<T extends SharedHandle>(
  kind: string,
  type: abstract new (...args: never[]) => T,
  revive: (description: SharedDescription) => T,
): void {
  registerTransfer<T>({ kind, type, describe: describeHandle, revive });
}

/**
 * {@link registerHandle} for a class built from one options object and opened by `open(name)`: an anonymous
 * object is rebuilt as `new type({ [RECEIVED]: description })` (its memory came along), a named one opened.
 * @internal
 */
export function registerOpenable<T extends SharedHandle>(
  kind: string,
  type: (new (options: never) => T) & { open(name: string): T },
): void {
  registerHandle(kind, type, (d) => (d.memory ? new type({ [RECEIVED]: d } as never) : type.open(d.name)));
}

/**
 * The memory of a new handle: the one a parent process passed (its description in `options`, see RECEIVED in
 * comm/reduction.ts), else created or opened as the naming options say.
 * @internal
 */
export function openSegment(spec: SegmentSpec, options: unknown): Segment {
  const received = receivedDescription(options);
  return received?.memory
    ? Segment.received(spec.kind, received.name, received.memory)
    : Segment.open(spec, parseNameOptions(options));
}
