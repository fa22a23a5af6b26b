/**
 * Memory for anonymous objects. It lives in memfd files, which have no name anywhere: the kernel frees
 * them when the last process holding a descriptor or mapping exits, however it exits (SIGKILL included),
 * so nothing anonymous can ever be left in /dev/shm. Small objects (a semaphore, a lock, a Value) are packed
 * into shared 1 MiB arenas, so 100,000 of them cost a handful of descriptors and mappings, not 100,000.
 *
 * Closing an anonymous object gives its block back to this process's arena, where a later object of the same
 * size class reuses it (zeroed); arenas are never unmapped, because other blocks in them may be in use.
 * A block is never reused once any other process may use it — the object was passed to a child, or
 * received from a parent (`markPassed`) — nor when user code may still hold a view of it (`Segment.retain`):
 * such a block stays reserved until the arena file itself goes, with the last process that maps it.
 * Objects larger than 64 KiB get a memory file of their own, unmapped and closed on close.
 */
import { randomBytes } from 'node:crypto';

import { registerAfterFork } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';

/** A memfd-backed file mapped into this process. */
export class MemoryFile {
  /** Unique across processes; identifies the file when it is passed to a child. */
  readonly id: string;
  /** The memfd descriptor (close-on-exec), kept so that the file can be passed to children. */
  readonly fd: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;

  constructor(size: number, label = 'posix-mp') {
    this.id = `${process.pid}.${randomBytes(6).toString('hex')}`;
    this.fd = binding.memfdCreate(label);
    try {
      binding.ftruncate(this.fd, size);
      this.buffer = binding.map(this.fd, size);
    } catch (error) {
      binding.closeFd(this.fd);
      throw error;
    }
    this.size = size;
  }

  /** Detaches the buffer and closes the descriptor; the memory goes once no process uses it. */
  close(): void {
    binding.unmap(this.buffer);
    binding.closeFd(this.fd);
  }
}

/** A block of zeroed shared memory: a slice of an arena, or a whole file of its own for large objects. */
export interface Block {
  readonly file: MemoryFile;
  readonly offset: number;
  readonly size: number;
}

/** Objects larger than this get a memory file of their own instead of arena space. */
const MAX_ARENA_OBJECT = 64 * 1024;

const ARENA_SIZE = 1 << 20;
/** Blocks start on cache lines, so objects used by different processes never share one. */
const ALIGN = 64;

class Arena {
  readonly file = new MemoryFile(ARENA_SIZE, 'posix-mp-arena');
  next = 0;
}

const arenas: Arena[] = [];
/** Freed blocks by size, reused before the bump pointer moves on. */
const freeBlocks = new Map<number, Block[]>();
// A forked child must not allocate in the arenas it inherited from the zygote: they are shared with every
// other child forked from it. It gives them up (the zygote has no objects left in them) and makes its own.
registerAfterFork(() => {
  for (const arena of arenas) arena.file.close();
  arenas.length = 0;
  freeBlocks.clear();
});
/** Blocks another process has been given (or this process was given): see {@link markPassed}. */
const passedBlocks = new WeakSet<Block>();

/**
 * Marks a block as shared with another process (passed to a child, or received from a parent). `freeBlock`
 * never reuses it, whoever frees it: another process may use the object in it for as long as it lives.
 */
export function markPassed(block: Block): void {
  passedBlocks.add(block);
}

/** Allocates `size` zeroed bytes of anonymous shared memory, aligned to 64 bytes. */
export function allocateBlock(size: number): Block {
  if (size > MAX_ARENA_OBJECT) return { file: new MemoryFile(size, 'posix-mp-object'), offset: 0, size };
  const rounded = Math.ceil(size / ALIGN) * ALIGN;
  const reused = freeBlocks.get(rounded)?.pop();
  if (reused) {
    new Uint8Array(reused.file.buffer, reused.offset, rounded).fill(0);
    return reused;
  }
  let arena = arenas[arenas.length - 1];
  if (!arena || arena.next + rounded > ARENA_SIZE) {
    arena = new Arena();
    arenas.push(arena);
  }
  const block = { file: arena.file, offset: arena.next, size: rounded };
  arena.next += rounded;
  return block;
}

/**
 * Gives a block up. A large object's own file is unmapped and closed (its memory lives on while other
 * processes map it). An arena block is reused by a later allocation only if `reusable`: a block that another
 * process has seen, or that user code may still reference, is never reused — it stays reserved until the
 * arena itself goes away with the last process mapping it.
 */
export function freeBlock(block: Block, reusable = true): void {
  if (block.size > MAX_ARENA_OBJECT) {
    block.file.close();
    return;
  }
  if (!reusable || passedBlocks.has(block)) return;
  const list = freeBlocks.get(block.size);
  if (list) list.push(block);
  else freeBlocks.set(block.size, [block]);
}
