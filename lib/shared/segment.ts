/**
 * The memory of a Lock, RLock, Event, Condition, Barrier, Value, Array or Queue: a 32-byte header
 * (`pmp_header` in native/include/posix_mp.h) followed by the object's payload. A named object is the shm
 * object `/<name>` holding exactly that; an anonymous one is a block of a memfd arena (arena.ts).
 *
 * Lifetime: a named object persists like a file until `unlink()`; `close()` only unmaps it here. An anonymous
 * object has no name in the file system at all, so it cannot outlive the processes using it; `close()` hands
 * its block back to the arena for reuse unless other processes or user-held views may still use it (see
 * `retain()` and arena.ts).
 */
import { allocateBlock, freeBlock, type Block } from './arena.js';
import { closedError, mpError } from '../internal/errors.js';
import { anonymousName, type ParsedNameOptions } from './names.js';
import { Kind, KIND_NAMES, LAYOUT } from '../internal/layout.js';
import { binding, OpenMode, WaitStatus } from '../internal/native.js';

export { Kind } from '../internal/layout.js';

/** The class name of a kind, for messages. */
export function kindName(kind: number): string {
  return KIND_NAMES[kind as Kind] ?? 'unknown object';
}

const { pmp_header: HEADER, constants: C } = LAYOUT;
/** Byte offset of the payload from the header. */
export const HEADER_SIZE = HEADER.sizeof;
const MAGIC = C.PMP_MAGIC;
const VERSION = C.PMP_VERSION;
const STATE_READY = C.PMP_STATE_READY;
// Header words, as Int32Array indexes from the header start.
const H_MAGIC = HEADER.magic / 4;
const H_KIND = HEADER.kind / 4;
const H_STATE = HEADER.state / 4;
const H_VERSION = HEADER.version / 4;
const H_CREATOR = HEADER.creator_pid / 4;
const H_PAYLOAD_SIZE = HEADER.payload_size / 4;
const H_PARAM0 = HEADER.param / 4;
const H_PARAM1 = H_PARAM0 + 1;
/** How long an opener waits for a creator to finish initialising before giving up. */
const READY_TIMEOUT_MS = 5000;

/** What a class needs from its memory. */
export interface SegmentSpec {
  kind: Kind;
  /** Payload bytes after the header (an opened object's own size is used instead). */
  payloadSize: number;
  /** Kind-specific parameters stored in the header (e.g. a Value's typecode and length). */
  params?: readonly [number, number];
  /** Initialises the payload of a newly created object; the header is written around it. */
  init?: (segment: Segment) => void;
}

/** A shared object's memory in this process. */
export class Segment {
  /** The object's name: a system name, or a generated one for anonymous objects. */
  readonly name: string;
  /** Whether this call created the object (and ran `init`). */
  readonly created: boolean;
  /** The mapping: a named object's own, or the arena's. */
  readonly buffer: ArrayBuffer;
  /** Offset of the header in `buffer`. */
  readonly headerOffset: number;
  /** Payload size in bytes. */
  readonly payloadSize: number;
  /** The header's kind-specific parameters. */
  readonly params: readonly [number, number];
  /** The arena block of an anonymous object. */
  readonly block: Block | undefined;
  #open = true;
  #retained = false;

  private constructor(fields: Omit<Segment, 'payloadOffset' | 'anonymous' | 'kind' | 'assertOpen' | 'retain' | 'close' | 'unlink'>) {
    this.name = fields.name;
    this.created = fields.created;
    this.buffer = fields.buffer;
    this.headerOffset = fields.headerOffset;
    this.payloadSize = fields.payloadSize;
    this.params = fields.params;
    this.block = fields.block;
  }

  /** Offset of the payload in `buffer`. */
  get payloadOffset(): number {
    return this.headerOffset + HEADER_SIZE;
  }

  /** The object's kind, from its header. */
  get kind(): Kind {
    return new Int32Array(this.buffer, this.headerOffset, HEADER_SIZE / 4)[H_KIND]!;
  }

  /** Whether the object is anonymous (memfd arena, no system name). */
  get anonymous(): boolean {
    return this.block !== undefined;
  }

  /** Creates or opens the object as `naming` says (anonymous when it has no name). */
  static open(spec: SegmentSpec, naming: ParsedNameOptions): Segment {
    if (naming.name === undefined) {
      const block = allocateBlock(HEADER_SIZE + spec.payloadSize);
      const segment = new Segment({
        name: anonymousName(),
        created: true,
        buffer: block.file.buffer,
        headerOffset: block.offset,
        payloadSize: spec.payloadSize,
        params: spec.params ?? [0, 0],
        block,
      });
      segment.#initialise(spec);
      return segment;
    }
    return Segment.#openNamed(spec, naming.name, naming.openMode, naming.mode);
  }

  /**
   * An anonymous object another process passed to this one (reduction.ts): its block, already mapped here.
   * Size and parameters come from the object's header, which its creator wrote before passing it.
   */
  static received(kind: Kind, name: string, block: Block): Segment {
    const header = new Int32Array(block.file.buffer, block.offset, HEADER_SIZE / 4);
    checkKind(header, kind, name);
    return new Segment({
      name,
      created: false,
      buffer: block.file.buffer,
      headerOffset: block.offset,
      payloadSize: header[H_PAYLOAD_SIZE]!,
      params: [header[H_PARAM0]!, header[H_PARAM1]!],
      block,
    });
  }

  static #openNamed(spec: SegmentSpec, name: string, openMode: OpenMode, mode: number): Segment {
    const posixName = `/${name}`;
    const { fd, created } = binding.shmOpen(posixName, openMode, mode);
    let buffer: ArrayBuffer | undefined;
    try {
      if (created) {
        binding.ftruncate(fd, HEADER_SIZE + spec.payloadSize);
        buffer = binding.map(fd, HEADER_SIZE + spec.payloadSize);
        const segment = new Segment({
          name,
          created,
          buffer,
          headerOffset: 0,
          payloadSize: spec.payloadSize,
          params: spec.params ?? [0, 0],
          block: undefined,
        });
        segment.#initialise(spec);
        return segment;
      }
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let size = binding.fdSize(fd);
      // A creator runs shm_open, then ftruncate: an opener can see the object before it has a size.
      while (size < HEADER_SIZE && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        size = binding.fdSize(fd);
      }
      if (size < HEADER_SIZE) throw notReady(name);
      buffer = binding.map(fd, size);
      const header = new Int32Array(buffer, 0, HEADER_SIZE / 4);
      while (Atomics.load(header, H_STATE) !== STATE_READY) {
        const left = deadline - Date.now();
        if (left <= 0 || binding.futexWait(header, H_STATE, 0, left) === WaitStatus.TimedOut) throw notReady(name);
      }
      checkKind(header, spec.kind, name);
      return new Segment({
        name,
        created,
        buffer,
        headerOffset: 0,
        payloadSize: header[H_PAYLOAD_SIZE]!,
        params: [header[H_PARAM0]!, header[H_PARAM1]!],
        block: undefined,
      });
    } catch (error) {
      if (buffer) binding.unmap(buffer);
      if (created) binding.shmUnlink(posixName);
      throw error;
    } finally {
      binding.closeFd(fd);
    }
  }

  #initialise(spec: SegmentSpec): void {
    const header = new Int32Array(this.buffer, this.headerOffset, HEADER_SIZE / 4);
    header[H_MAGIC] = MAGIC;
    header[H_KIND] = spec.kind;
    header[H_VERSION] = VERSION;
    header[H_CREATOR] = process.pid;
    header[H_PAYLOAD_SIZE] = spec.payloadSize;
    header[H_PARAM0] = this.params[0];
    header[H_PARAM1] = this.params[1];
    spec.init?.(this);
    // Publish: openers wait for this store (and its futex wake) before they look at the payload. Nobody can
    // wait on an anonymous object yet (no other process has it), so it skips the wake — a syscall per object.
    Atomics.store(header, H_STATE, STATE_READY);
    if (!this.block) binding.futexWake(header, H_STATE, 0x7fffffff);
  }

  /** Throws ERR_MP_CLOSED after `close()`. */
  assertOpen(what: string): void {
    if (!this.#open) throw closedError(what);
  }

  /**
   * Declares that the memory may be used beyond this handle's lifetime: a view or lock over it was handed to
   * user code (which may keep it after `close()`), or the object was passed to another process. `close()`
   * then never gives an arena block back for reuse, so no later object can alias memory someone still uses.
   */
  retain(): void {
    this.#retained = true;
  }

  /**
   * Releases this process's use of the memory. A named object is unmapped (views over it become empty). An
   * anonymous one returns its block to the arena for reuse by later objects of this process — unless it was
   * retained (see `retain()`); the arena itself, like any memfd, lives while any process maps it.
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.block) freeBlock(this.block, !this.#retained);
    else binding.unmap(this.buffer);
  }

  /** Removes a named object from the system (processes using it keep it). No-op when anonymous. */
  unlink(): void {
    if (!this.block) binding.shmUnlink(`/${this.name}`);
  }
}

function notReady(name: string): Error {
  return mpError(
    'ERR_MP_NOT_READY',
    `shared object '${name}' was never initialised (its creator may have died while creating it); unlink it`,
  );
}

function checkKind(header: Int32Array, kind: Kind, name: string): void {
  if (header[H_MAGIC] !== MAGIC || header[H_VERSION] !== VERSION) {
    throw mpError('ERR_MP_WRONG_KIND', `'${name}' is not a posix-mp ${kindName(kind)} (no posix-mp header)`);
  }
  const actual = header[H_KIND]!;
  if (actual !== kind) {
    throw mpError('ERR_MP_WRONG_KIND', `'${name}' is a ${kindName(actual)}, not a ${kindName(kind)}`);
  }
}
