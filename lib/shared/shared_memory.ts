/**
 * SharedMemory: a block of memory shared by name, interchangeable with Python's
 * `multiprocessing.shared_memory.SharedMemory` and a C program's `shm_open`.
 */
import { invalidArgValue, mpError } from '../internal/errors.js';
import { binding, OpenMode } from '../internal/native.js';
import { validateBoolean, validateInteger, validateOptions } from '../internal/validate.js';
import { receivedDescription, type SharedDescription } from '../comm/reduction.js';
import { MemoryFile } from './arena.js';
import { registerOpenable, SharedHandle } from './handle.js';
import { anonymousName, parseNameOptions, type NameOptions } from './names.js';

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
export class SharedMemory extends SharedHandle {
  /** Size in bytes. */
  readonly size: number;
  #buf: Buffer | undefined;
  #arrayBuffer: ArrayBuffer | undefined;
  /** The memory file of anonymous memory. */
  readonly #file: MemoryFile | undefined;

  constructor(options: SharedMemoryOptions) {
    const o = validateOptions<SharedMemoryOptions>(options);
    const naming = parseNameOptions(o);
    const create = o.create === undefined ? undefined : validateBoolean(o.create, 'options.create', false);
    const size = o.size === undefined ? undefined : validateInteger(o.size, 'options.size', 1, Number.MAX_SAFE_INTEGER);
    // Passed by a parent process (reduction.ts): its memory file, received and mapped here.
    const received = naming.name === undefined ? receivedDescription(options) : undefined;
    let file: MemoryFile | undefined;
    let memory: { name: string; buffer: ArrayBuffer };
    if (received?.memory) {
      file = received.memory.file;
      memory = { name: received.name, buffer: file.buffer };
    } else if (naming.name === undefined) {
      if (create === false) throw invalidArgValue('options.name', undefined, 'is required when create is false');
      if (size === undefined) throw invalidArgValue('options.size', undefined, 'is required to create shared memory');
      file = new MemoryFile(size, 'posix-mp-shm');
      memory = { name: anonymousName(), buffer: file.buffer };
    } else {
      memory = { name: naming.name, buffer: mapNamed(naming.name, naming.openMode, naming.mode, create, size) };
    }
    super('SharedMemory', memory.name);
    this.#file = file;
    this.#arrayBuffer = memory.buffer;
    this.size = memory.buffer.byteLength;
  }

  /** Opens an existing named block (`code: 'ENOENT'` if there is none). */
  static open(name: string): SharedMemory {
    return new SharedMemory({ name, create: false });
  }

  /** The memory, zero-copy. After `close()` it is detached (length 0) and this getter throws. */
  get buf(): Buffer {
    this.assertOpen();
    this.#buf ??= Buffer.from(this.#arrayBuffer!);
    return this.#buf;
  }

  /** @internal Unmaps the memory: every Buffer over it becomes empty; the object itself remains. */
  protected override free(): void {
    if (this.#file) this.#file.close();
    else binding.unmap(this.#arrayBuffer!);
    this.#arrayBuffer = undefined;
    this.#buf = undefined;
  }

  /** Removes the name from the system (other processes keep their mappings). No-op for anonymous memory. */
  override unlink(): void {
    if (!this.#file) binding.shmUnlink(`/${this.name}`);
  }

  /** @internal Named memory by name, anonymous memory with its file. */
  protected override describe(): SharedDescription {
    return { name: this.name, memory: this.#file && { file: this.#file, offset: 0, size: this.size } };
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { size: this.size };
  }

  static {
    registerOpenable('SharedMemory', SharedMemory);
  }
}

/** Opens or creates the named object `/<name>` as Python's `create` flag says, and maps all of it. */
function mapNamed(name: string, mode: OpenMode, permissions: number, create: boolean | undefined, size: number | undefined): ArrayBuffer {
  let openMode = mode;
  if (create === true) openMode = OpenMode.Create;
  else if (create === false || size === undefined) openMode = OpenMode.Open;
  if (openMode === OpenMode.Create && size === undefined) {
    throw invalidArgValue('options.size', undefined, 'is required to create shared memory');
  }
  const posixName = `/${name}`;
  const { fd, created } = binding.shmOpen(posixName, openMode, permissions);
  try {
    if (created) binding.ftruncate(fd, size!);
    const actual = binding.fdSize(fd);
    if (actual === 0) throw mpError('ERR_MP_ZERO_SIZE', `shared memory '${name}' has size 0 and cannot be mapped`);
    return binding.map(fd, actual);
  } catch (error) {
    if (created) binding.shmUnlink(posixName);
    throw error;
  } finally {
    // The mapping keeps the memory; the descriptor is not needed any more.
    binding.closeFd(fd);
  }
}
