/**
 * Memory for anonymous objects. It lives in memfd files, which have no name anywhere: the kernel frees
 * them when the last process holding a descriptor or mapping exits, however it exits (SIGKILL included),
 * so nothing anonymous can ever be left in /dev/shm. Small objects (a semaphore, a lock, a Value) are packed
 * into shared 1 MiB arenas, so 100,000 of them cost a handful of descriptors and mappings, not 100,000.
 * @internal
 */
import { randomBytes } from 'node:crypto';

import { binding } from './native.js';

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
 * Returns a block for reuse. Only for blocks no other process has seen: once an object has been passed to a
 * child, its block stays reserved until the arena itself goes away with the last process.
 */
export function freeBlock(block: Block): void {
  if (block.size > MAX_ARENA_OBJECT) {
    block.file.close();
    return;
  }
  const list = freeBlocks.get(block.size);
  if (list) list.push(block);
  else freeBlocks.set(block.size, [block]);
}
