/**
 * SharedMemory: a block of memory shared by name, interchangeable with Python's
 * `multiprocessing.shared_memory.SharedMemory` and a C program's `shm_open`.
 */
import { MemoryFile } from './arena.js';
import { closedError, invalidArgValue, mpError } from '../internal/errors.js';
import { anonymousName, parseNameOptions, type NameOptions } from './names.js';
import { binding, OpenMode } from '../internal/native.js';
import { RECEIVED, receivedDescription, registerTransfer } from '../comm/reduction.js';
import { validateBoolean, validateInteger, validateOptions } from '../internal/validate.js';

/** Options of {@link SharedMemory}. */
export interface SharedMemoryOptions extends NameOptions {
  /**
   * Python's flag: `true` creates a new object (like `exclusive`), `false` only opens an existing one.
   * Omitted: open the named object if it exists, else create it with `size`.
   */
  create?: boolean;
  /** Size in bytes when creating. An opened object keeps its own size (as in Python). */
  size?: number;
}

/**
 * A shared memory block. With a `name` it is the POSIX object `/dev/shm/<name>`, which Python opens with
 * `SharedMemory(name)` and C with `shm_open("/<name>")`; it persists until `unlink()`. Without a name it is
 * anonymous: backed by a memfd, usable by the processes it is passed to, gone when they have all exited.
 */
export class SharedMemory {
  /** The name other processes open (Python's convention: no leading '/'). */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  #buf: Buffer | undefined;
  #arrayBuffer: ArrayBuffer | undefined;
  readonly #file: MemoryFile | undefined;

  constructor(options: SharedMemoryOptions) {
    const o = validateOptions<SharedMemoryOptions>(options);
    const naming = parseNameOptions(o);
    const create = o.create === undefined ? undefined : validateBoolean(o.create, 'options.create', false);
    const size = o.size === undefined ? undefined : validateInteger(o.size, 'options.size', 1, Number.MAX_SAFE_INTEGER);

    if (naming.name === undefined) {
      // Passed by a parent process (reduction.ts): its memory file, received and mapped here.
      const received = receivedDescription(options);
      if (received?.memory) {
        this.#file = received.memory.file;
        this.name = received.name;
        this.size = received.memory.size;
        this.#arrayBuffer = this.#file.buffer;
        return;
      }
      if (create === false) throw invalidArgValue('options.name', undefined, 'is required when create is false');
      if (size === undefined) throw invalidArgValue('options.size', undefined, 'is required to create shared memory');
      this.#file = new MemoryFile(size, 'posix-mp-shm');
      this.name = anonymousName();
      this.size = size;
      this.#arrayBuffer = this.#file.buffer;
      return;
    }

    let openMode = naming.openMode;
    if (create === true) openMode = OpenMode.Create;
    else if (create === false || size === undefined) openMode = OpenMode.Open;
    if (openMode === OpenMode.Create && size === undefined) {
      throw invalidArgValue('options.size', undefined, 'is required to create shared memory');
    }
    const posixName = `/${naming.name}`;
    const { fd, created } = binding.shmOpen(posixName, openMode, naming.mode);
    try {
      if (created) binding.ftruncate(fd, size!);
      const actual = binding.fdSize(fd);
      if (actual === 0) throw mpError('ERR_MP_EMPTY', `shared memory '${naming.name}' has size 0 and cannot be mapped`);
      this.#arrayBuffer = binding.map(fd, actual);
      this.size = actual;
    } catch (error) {
      if (created) binding.shmUnlink(posixName);
      throw error;
    } finally {
      // The mapping keeps the memory; the descriptor is not needed any more.
      binding.closeFd(fd);
    }
    this.name = naming.name;
  }

  /** Opens an existing named block (`code: 'ENOENT'` if there is none). */
  static open(name: string): SharedMemory {
    return new SharedMemory({ name, create: false });
  }

  /** The memory, zero-copy. After `close()` it is detached (length 0) and this getter throws. */
  get buf(): Buffer {
    if (!this.#arrayBuffer) throw closedError('SharedMemory');
    this.#buf ??= Buffer.from(this.#arrayBuffer);
    return this.#buf;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#arrayBuffer === undefined;
  }

  /** Unmaps the memory from this process. Every Buffer over it becomes empty; the object itself remains. */
  close(): void {
    if (!this.#arrayBuffer) return;
    if (this.#file) this.#file.close();
    else binding.unmap(this.#arrayBuffer);
    this.#arrayBuffer = undefined;
    this.#buf = undefined;
  }

  /** Removes the name from the system (other processes keep their mappings). No-op for anonymous memory. */
  unlink(): void {
    if (!this.#file) binding.shmUnlink(`/${this.name}`);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // Passing to child processes: named memory by name, anonymous memory with its file (reduction.ts).
  static {
    registerTransfer<SharedMemory>({
      kind: 'SharedMemory',
      type: SharedMemory,
      describe: (shm) => {
        if (!shm.#arrayBuffer) throw closedError('SharedMemory');
        return { name: shm.name, memory: shm.#file && { file: shm.#file, offset: 0, size: shm.size } };
      },
      revive: (d) => (d.memory ? new SharedMemory({ [RECEIVED]: d } as SharedMemoryOptions) : SharedMemory.open(d.name)),
    });
  }
}
