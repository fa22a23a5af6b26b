/**
 * Manager: Python's `multiprocessing.Manager()` without a server process. Python's manager runs a server
 * that owns the objects and answers every proxy call over a socket (~70 µs a call); here every object lives
 * in shared memory and every process operates on it directly (see heap.ts), so the manager is only an owner:
 * it names what it makes and removes it all on `shutdown()`.
 *
 * Its objects are named (`mp-manager-<pid>-<random>-<n>`), not anonymous, so that they can be stored in its
 * containers (a dict of lists, a Lock in a Namespace): an anonymous object's memory is reached only through
 * descriptors, which shared memory cannot hold. They go from the system at `shutdown()`, when the process
 * that made the manager exits, or — if that process is killed — by the hand of its guardian
 * (shared/guardian.ts), which is told the manager's name prefix; processes that have them open keep using
 * them.
 */
import { randomBytes } from 'node:crypto';

import { JoinableQueue } from '../comm/joinable_queue.js';
import { Queue } from '../comm/queue.js';
import { Barrier, type BarrierBehaviour } from '../sync/barrier.js';
import { Condition } from '../sync/condition.js';
import { Event } from '../sync/event.js';
import { Lock, RLock } from '../sync/lock.js';
import { BoundedSemaphore, Semaphore } from '../sync/semaphore.js';
import { SharedArray } from '../shared/shared_array.js';
import type { SharedHandle } from '../shared/handle.js';
import { Value } from '../shared/value.js';
import type { ElementOf, InputOf, Typecode } from '../shared/typecodes.js';
import { validateOptions } from '../internal/validate.js';
import { guard, Guarded, unguard } from '../shared/guardian.js';
import { validateName } from '../shared/names.js';
import { closedError, invalidArgType } from '../internal/errors.js';
import { namespaceOver } from './namespace.js';
import { SharedDict, type DictUpdate } from './shared_dict.js';
import { SharedList } from './shared_list.js';

/** The managers not shut down yet: the exit of this process removes their objects (one listener for all). */
const live = new Set<Manager>();
let exitListener = false;

/** Options of a Manager's containers. */
export interface ManagedOptions {
  /** The container's name (default: a generated one); it is still removed by `shutdown()`. */
  name?: string;
}

/**
 * Makes shared containers (`list()`, `dict()`, `Namespace()`) and synchronisation objects that processes
 * use at once, as Python's `Manager()` does — the objects are the library's own (a Lock is a {@link Lock}),
 * passable to Process arguments, storable in each other, and openable by name from unrelated processes.
 * `shutdown()` (or `using`) removes them all.
 */
export class Manager {
  readonly #owned: SharedHandle[] = [];
  readonly #prefix = `mp-manager-${process.pid}-${randomBytes(4).toString('hex')}`;
  /** What the guardian is told: the prefix of every generated name, then the names given. */
  readonly #guarded: Array<[Guarded, string]> = [[Guarded.Prefix, `${this.#prefix}-`]];
  #count = 0;
  #shut = false;

  constructor() {
    // Before anything exists: a process killed at any point after leaves nothing its guardian does not know.
    for (const [kind, name] of this.#guarded) guard(kind, name);
    live.add(this);
    if (!exitListener) {
      exitListener = true;
      process.on('exit', () => {
        for (const manager of live) manager.#removeAll();
      });
    }
  }

  /** A new list (Python's `manager.list()`). */
  list<T = unknown>(init?: Iterable<T>, options?: ManagedOptions): SharedList<T> {
    return this.#container(options, (name) => new SharedList<T>(init, { name }));
  }

  /** A new dict (Python's `manager.dict()`): from a Map, [key, value] pairs, or an object's properties. */
  dict<V = unknown>(init?: DictUpdate<V>, options?: ManagedOptions): SharedDict<V> {
    return this.#container(options, (name) => new SharedDict<V>(init, { name }));
  }

  /**
   * A new namespace (Python's `manager.Namespace()`): an object whose properties read and write through to
   * shared memory, so `ns.x = 1` in one process is seen by every other.
   */
  Namespace(init?: Record<string, unknown>, options?: ManagedOptions): Record<string, unknown> {
    if (init !== undefined && (init === null || typeof init !== 'object')) throw invalidArgType('init', 'of type object', init);
    return namespaceOver(this.dict(init === undefined ? undefined : Object.entries(init), options));
  }

  /** A new {@link Lock}. */
  Lock(): Lock {
    return this.#own(new Lock({ name: this.#name() }));
  }

  /** A new {@link RLock}. */
  RLock(): RLock {
    return this.#own(new RLock({ name: this.#name() }));
  }

  /** A new {@link Semaphore} of initial value `value`. */
  Semaphore(value = 1): Semaphore {
    return this.#own(new Semaphore(value, { name: this.#name() }));
  }

  /** A new {@link BoundedSemaphore} of initial (and maximum) value `value`. */
  BoundedSemaphore(value = 1): BoundedSemaphore {
    return this.#own(new BoundedSemaphore(value, { name: this.#name() }));
  }

  /** A new {@link Condition} over `lock` (default: its own RLock). */
  Condition(lock?: Lock | RLock): Condition {
    return this.#own(new Condition(lock, { name: this.#name() }));
  }

  /** A new {@link Event}. */
  Event(): Event {
    return this.#own(new Event({ name: this.#name() }));
  }

  /** A new {@link Barrier} for `parties` parties. */
  Barrier(parties: number, behaviour?: BarrierBehaviour): Barrier {
    const b = validateOptions<BarrierBehaviour>(behaviour, 'behaviour');
    return this.#own(new Barrier(parties, { action: b.action, timeout: b.timeout, name: this.#name() }));
  }

  /**
   * A new {@link Queue} holding at most `maxsize` items (0: no limit but its bytes). Named, like everything a
   * Manager makes, so it can be stored in containers; anonymous objects inside its items are therefore refused.
   */
  Queue<T = unknown>(maxsize = 0): Queue<T> {
    return this.#own(new Queue<T>(maxsize, { name: this.#name() }));
  }

  /** A new {@link JoinableQueue} (see {@link Manager.Queue}). */
  JoinableQueue<T = unknown>(maxsize = 0): JoinableQueue<T> {
    return this.#own(new JoinableQueue<T>(maxsize, { name: this.#name() }));
  }

  /** A new {@link Value} of C type `typecode` (with its own lock, as Python's manager Value is synchronised). */
  Value<C extends Typecode>(typecode: C, value?: InputOf<C>): Value<ElementOf<C>> {
    return this.#own(new Value(typecode, value, { name: this.#name() }));
  }

  /** A new {@link SharedArray} of C type `typecode`: `size` zeroed elements, or a copy of `values`. */
  Array<C extends Typecode>(typecode: C, sizeOrValues: number | ArrayLike<InputOf<C>>): SharedArray<ElementOf<C>> {
    return this.#own(new SharedArray(typecode, sizeOrValues, { name: this.#name() }));
  }

  /**
   * Removes every object this manager made from the system and closes this process's handles to them, as
   * Python's `shutdown()` ends the server. Processes that have them open keep using them; none can open them
   * any more. The manager makes nothing after.
   */
  shutdown(): void {
    if (this.#shut) return;
    this.#removeAll();
    for (const handle of this.#owned) handle.close();
    this.#owned.length = 0;
    live.delete(this);
  }

  /** Same as `shutdown()`. */
  [Symbol.dispose](): void {
    this.shutdown();
  }

  #removeAll(): void {
    this.#shut = true;
    for (const handle of this.#owned) {
      try {
        handle.unlink();
      } catch {
        // Already removed (by `rm`, or by a process that opened it by name): nothing left to do.
      }
    }
    // After the unlinks: a process killed in between leaves its guardian only names already gone.
    for (const [kind, name] of this.#guarded) unguard(kind, name);
    this.#guarded.length = 0;
  }

  #name(): string {
    if (this.#shut) throw closedError('Manager');
    return `${this.#prefix}-${++this.#count}`;
  }

  /** A container under the name `options` give, else a generated one; a given name is told to the guardian. */
  #container<T extends SharedHandle>(options: ManagedOptions | undefined, make: (name: string) => T): T {
    const { name } = validateOptions<ManagedOptions>(options);
    if (name === undefined) return this.#own(make(this.#name()));
    if (this.#shut) throw closedError('Manager');
    // A container's file is its name without the leading '/'.
    const file = validateName(name);
    // Before the container exists, and taken back if it cannot be made (another kind of object has the name).
    guard(Guarded.File, file);
    let container: T;
    try {
      container = make(name);
    } catch (error) {
      unguard(Guarded.File, file);
      throw error;
    }
    this.#guarded.push([Guarded.File, file]);
    return this.#own(container);
  }

  #own<T extends SharedHandle>(handle: T): T {
    this.#owned.push(handle);
    return handle;
  }
}
