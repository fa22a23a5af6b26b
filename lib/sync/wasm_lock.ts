/**
 * The uncontended Lock and RLock paths, as WebAssembly atomic instructions on a mirror of the lock word.
 *
 * Why: in Node 20 an `Atomics.compareExchange` on a BigUint64Array is a call into a V8 builtin that costs
 * ~20 ns, and a lock pair needs two; V8 compiles WebAssembly's atomic instructions inline, and a call from
 * optimised JS into WebAssembly costs a few nanoseconds, so a pair costs about half as much.
 *
 * How: WebAssembly can only address its own memory, so the page that holds a lock word is mapped a second
 * time, over a page of one WebAssembly.Memory (`mirrorPage` in native/memory/mirror.cc: mremap of a MAP_SHARED
 * mapping). Both addresses reach the same physical page, so an atomic instruction through the mirror is
 * atomic with respect to the original mapping, to native waits on it and to every other process.
 *
 * The window is a fixed-size memory that never grows (growing could move it, and copy the mirrors into
 * private memory). Pages are mirrored when a lock is first taken, shared by the locks on the same page (an
 * arena page holds up to 64), and put back when the last of those locks is closed or collected. When
 * WebAssembly is unavailable (`--jitless`), the window is full or the mirroring fails, a lock keeps using
 * `Atomics` on its own view: same protocol, a little slower.
 */
import { registerAfterFork } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';

/** `mirrorOf` result for a word without a mirror. */
export const NO_MIRROR = -1;

/** WebAssembly pages (64 KiB each) in the window: 16 MiB of address space, room for 4,096 mirrored 4 KiB pages. */
const WINDOW_WASM_PAGES = 256;

/**
 * The module, hand-assembled (two functions do not justify a toolchain). With the lock word
 * (`pmp_lock.word`) at byte `at` of the window and this process's owner token imported as a global:
 *   tryLock(at) = cmpxchg64(at, expect 0, store token) == 0        — took the free lock
 *   unlock(at)  = cmpxchg64(at, expect token, store 0) == token    — released it, and nobody sleeps on it
 */
function moduleBytes(): Uint8Array {
  const leb128 = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb128(n >>> 7)]);
  const section = (id: number, body: number[]): number[] => [id, ...leb128(body.length), ...body];
  const name = (text: string): number[] => [text.length, ...Buffer.from(text)];
  const I32 = 0x7f;
  const I64 = 0x7e;
  const cmpxchg64 = [0xfe, 0x49, 3, 0]; // i64.atomic.rmw.cmpxchg, 8-byte alignment, offset 0
  const at = [0x20, 0]; // local.get 0
  const zero = [0x42, 0]; // i64.const 0
  const token = [0x23, 0]; // global.get 0
  const tryLock = [0, ...at, ...zero, ...token, ...cmpxchg64, 0x50 /* i64.eqz */, 0x0b];
  const unlock = [0, ...at, ...token, ...zero, ...cmpxchg64, ...token, 0x51 /* i64.eq */, 0x0b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // "\0asm", version 1
    ...section(1, [1, 0x60, 1, I32, 1, I32]), // one type: (i32) -> i32
    ...section(2, [
      2,
      ...name('env'), ...name('token'), 0x03, I64, 0, // immutable i64 global
      ...name('env'), ...name('memory'), 0x02, 1, ...leb128(WINDOW_WASM_PAGES), ...leb128(WINDOW_WASM_PAGES), // min = max
    ]),
    ...section(3, [2, 0, 0]), // two functions of type 0
    ...section(7, [2, ...name('tryLock'), 0x00, 0, ...name('unlock'), 0x00, 1]),
    ...section(10, [2, tryLock.length, ...tryLock, unlock.length, ...unlock]),
  ]);
}

/**
 * Takes the free lock whose word is at `at` in the window: 1 if taken, 0 if it was not free. The module's
 * own function, called directly (a wrapper would cost more than the instruction); usable once `mirrorOf` has
 * returned a mirror.
 */
export let tryLock: (at: number) => number = () => 0;
/** Frees the lock at `at` held by this process with nobody waiting: 1 if done, 0 otherwise (slow path). */
export let unlock: (at: number) => number = () => 0;

/** The window's memory, created on first use; null when WebAssembly cannot provide one. */
let mirrorWindow: ArrayBuffer | null | undefined;

/** The part of the WebAssembly API used here (the @types/node of Node 20 does not declare it). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
  Global: new (descriptor: { value: 'i64'; mutable: boolean }, value: bigint) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

function openWindow(): ArrayBuffer | null {
  // Absent under --jitless.
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (!wasm) return null;
  try {
    const memory = new wasm.Memory({ initial: WINDOW_WASM_PAGES, maximum: WINDOW_WASM_PAGES });
    const token = new wasm.Global({ value: 'i64', mutable: false }, binding.selfToken());
    const env = { token, memory };
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()), { env });
    ({ tryLock, unlock } = instance.exports as { tryLock: typeof tryLock; unlock: typeof unlock });
    return memory.buffer;
  } catch {
    return null;
  }
}

/** A mirrored page: where it is in the window, and how many lock handles use it. */
interface Mirror {
  windowOffset: number;
  users: number;
}

const PAGE = binding.pageSize;
/** Mirrors by source mapping, then by page index in it. */
let mirrors = new WeakMap<ArrayBuffer, Map<number, Mirror>>();
/** Window pages given back by mirrors, reused before untouched ones (from `nextPage` on). */
let freePages: number[] = [];
let nextPage = 0;
// A forked child opens a window of its own: the zygote's names the zygote's owner token.
registerAfterFork(() => {
  mirrorWindow = undefined;
  mirrors = new WeakMap();
  freePages = [];
  nextPage = 0;
});

/** Gives a lock handle's use of a mirror back when the handle is collected without `close()`. */
const collected = new FinalizationRegistry<{ buffer: ArrayBuffer; byteOffset: number }>(({ buffer, byteOffset }) =>
  releaseMirror(buffer, byteOffset),
);

/**
 * Mirrors the 8-byte lock word at `byteOffset` of `buffer` (a posix-mp mapping) into the window for the lock
 * handle `owner`; returns the word's offset in the window, or NO_MIRROR. Each successful call is matched by
 * one `releaseMirror` (or happens automatically when `owner` is collected).
 */
export function mirrorOf(owner: object, buffer: ArrayBuffer, byteOffset: number): number {
  if (mirrorWindow === undefined) mirrorWindow = openWindow();
  if (mirrorWindow === null) return NO_MIRROR;
  const pageIndex = Math.floor(byteOffset / PAGE);
  let pages = mirrors.get(buffer);
  let mirror = pages?.get(pageIndex);
  if (!mirror) {
    const windowPage = freePages.pop() ?? (nextPage * PAGE < mirrorWindow.byteLength ? nextPage++ : undefined);
    if (windowPage === undefined) return NO_MIRROR;
    try {
      binding.mirrorPage(buffer, byteOffset, mirrorWindow, windowPage * PAGE);
    } catch {
      freePages.push(windowPage);
      return NO_MIRROR;
    }
    mirror = { windowOffset: windowPage * PAGE, users: 0 };
    if (!pages) mirrors.set(buffer, (pages = new Map()));
    pages.set(pageIndex, mirror);
  }
  mirror.users++;
  collected.register(owner, { buffer, byteOffset }, owner);
  return mirror.windowOffset + (byteOffset % PAGE);
}

/** Ends `owner`'s use of its mirror (see `mirrorOf`). */
export function unmirror(owner: object, buffer: ArrayBuffer, byteOffset: number): void {
  if (collected.unregister(owner)) releaseMirror(buffer, byteOffset);
}

function releaseMirror(buffer: ArrayBuffer, byteOffset: number): void {
  const pageIndex = Math.floor(byteOffset / PAGE);
  const pages = mirrors.get(buffer);
  const mirror = pages?.get(pageIndex);
  if (!pages || !mirror || --mirror.users > 0) return;
  pages.delete(pageIndex);
  binding.unmirrorPage(mirrorWindow!, mirror.windowOffset);
  freePages.push(mirror.windowOffset / PAGE);
}

