/**
 * What SharedList and SharedDict share: their memory (heap.ts) in a file of its own — a named shm object, or
 * an anonymous memfd passed to children like any anonymous object — the robust lock every operation holds,
 * and how handles to them are revived in other processes.
 */
import { Lock } from '../sync/lock.js';
import { binding, OpenMode } from '../internal/native.js';
import { openSegment, SharedHandle } from '../shared/handle.js';
import { HEADER_SIZE, type Kind } from '../shared/segment.js';
import { Heap, INITIAL_SIZE, Txn } from './heap.js';

/** The base of SharedList and SharedDict. */
export abstract class SharedContainer extends SharedHandle {
  /** @internal */
  protected readonly heap: Heap;
  /** @internal Whether this handle created the container (and so fills it with the initial items). */
  protected readonly created: boolean;
  readonly #lock: Lock;
  /** A named container's own descriptor (growth needs one); an anonymous one uses its memfd's. */
  readonly #fd: number | undefined;

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
   * @internal Runs `fn` holding the container's lock, after finishing any operation a process killed while
   * holding it had committed. `fn` commits its own Txn; if it throws before, nothing changed.
   */
  protected locked<T>(fn: (txn: Txn) => T): T {
    if (this.closed) throw this.closedError();
    const lock = this.#lock;
    lock.acquireSync();
    try {
      this.heap.enter();
      return fn(new Txn(this.heap));
    } finally {
      lock.release();
    }
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
