/**
 * `withLock` / `withLockSync` for everything that can be acquired and released (Lock, RLock, Semaphore):
 * Python's `with lock:` block.
 */
import { invalidArgType } from '../internal/errors.js';

/** What `withLock` needs of its target. */
interface Acquirable {
  acquire(): Promise<boolean>;
  acquireSync(): boolean;
  release(): void;
}

/** Acquires `target`, runs `fn`, and releases once `fn`'s promise settles. */
export async function withLock<T>(target: Acquirable, fn: () => T | Promise<T>): Promise<T> {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
  await target.acquire();
  try {
    return await fn();
  } finally {
    target.release();
  }
}

/** Acquires `target` (blocking the thread), runs `fn`, and releases. */
export function withLockSync<T>(target: Acquirable, fn: () => T): T {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
  target.acquireSync();
  try {
    return fn();
  } finally {
    target.release();
  }
}
