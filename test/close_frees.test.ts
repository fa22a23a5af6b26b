// close() unmaps at once (issue 9, case 4): create+close loops of any length never run out of mappings, and
// the memory of closed objects is gone from /proc/self/maps before the event loop turns.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { atomics, Array as SharedArray, SharedMemory } from 'posix-mp';
import { uniqueName } from './helpers.js';

const KIB_128 = 128 * 1024;
const MIB_64 = 64 * 1024 * 1024;
/** More than vm.max_map_count (65530 by default): each leaked mapping would count against it. */
const LOOPS = 70_000;

/** The lines of /proc/self/maps that `match` selects. */
function mapsMatching(match: (line: string) => boolean): string[] {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter(match);
}

describe('close() frees the memory at once', () => {
  it(`${LOOPS} × create + close of 128 KiB anonymous SharedMemory in a synchronous loop`, () => {
    for (let i = 0; i < LOOPS; i++) new SharedMemory({ size: KIB_128 }).close();
  }, 120_000);

  it(`${LOOPS} × create + close + unlink of 128 KiB named SharedMemory in a synchronous loop`, () => {
    const name = uniqueName('close-loop');
    for (let i = 0; i < LOOPS; i++) {
      const shm = new SharedMemory({ name, size: KIB_128, create: true });
      shm.close();
      shm.unlink();
    }
  }, 120_000);

  it(`${LOOPS} × create + close of a 128 KiB anonymous Array, and of a named one (unlinked)`, () => {
    for (let i = 0; i < LOOPS; i++) new SharedArray('b', KIB_128).close();
    const name = uniqueName('close-array');
    for (let i = 0; i < LOOPS; i++) {
      const array = new SharedArray('b', KIB_128, { name, exclusive: true });
      array.close();
      array.unlink();
    }
  }, 240_000);

  it('16 × 64 MiB: after close() the mappings are gone from /proc/self/maps synchronously', () => {
    const isShm = (line: string): boolean => line.includes('memfd:posix-mp-shm');
    const before = mapsMatching(isShm).length;
    const blocks = Array.from({ length: 16 }, () => new SharedMemory({ size: MIB_64 }));
    for (const shm of blocks) shm.buf[MIB_64 - 1] = 1;
    expect(mapsMatching(isShm).length).toBe(before + 16);
    for (const shm of blocks) shm.close();
    expect(mapsMatching(isShm).length).toBe(before);
  });

  it('a named 64 MiB SharedMemory and Array: unmapped by close(), before the event loop turns', () => {
    const shmName = uniqueName('close-big-shm');
    const arrayName = uniqueName('close-big-array');
    const shm = new SharedMemory({ name: shmName, size: MIB_64 });
    const array = new SharedArray('d', MIB_64 / 8, { name: arrayName });
    const mapped = (): string[] => mapsMatching((line) => line.endsWith(`/${shmName}`) || line.endsWith(`/${arrayName}`));
    try {
      expect(mapped()).toHaveLength(2);
      shm.close();
      array.close();
      expect(mapped()).toHaveLength(0);
    } finally {
      shm.close();
      shm.unlink();
      array.close();
      array.unlink();
    }
  });

  it('a native wait still sleeping in the memory keeps it mapped until the wait returns, and no longer', async () => {
    const name = uniqueName('close-waiting');
    const shm = new SharedMemory({ name, size: MIB_64 });
    const mapped = (): number => mapsMatching((line) => line.endsWith(`/${name}`)).length;
    try {
      const view = new Int32Array(shm.buf.buffer, 0, 1);
      const waiting = atomics.waitAsync(view, 0, 0, { timeout: 300 });
      shm.close();
      // The views are empty at once; the pages stay for the waiter thread sleeping on the word.
      expect(view.length).toBe(0);
      expect(mapped()).toBe(1);
      expect(await waiting).toBe('timed-out');
      // The wait's reference goes as its result is delivered, on this thread, before this code resumes.
      expect(mapped()).toBe(0);
    } finally {
      shm.close();
      shm.unlink();
    }
  });
});
