// Issue #3, metric 1: an uncontended Lock acquireSync() + release() pair against Python's mp.Lock
// acquire() + release() (fork context). The RLock pair and a trivial N-API call are measured round-robin with
// it for context: posix-mp takes an uncontended lock without calling the addon (one compare-and-swap on the
// shared word to acquire, one to release, as WebAssembly atomic instructions). A note breaks the pair down.
// Target: the Lock pair at most 1/3 of Python's.
import { Lock, RLock } from 'posix-mp';

import { addon } from '../lib/addon.mjs';
import { sampleInterleaved } from '../lib/measure.mjs';
import { Scope, uniqueName } from '../lib/scope.mjs';

export const title = 'Lock / RLock, uncontended';
export const order = 40;

const OPS = 200_000;
/** Each run is short (tens of ms), so more of them for a steadier median on a shared machine. */
const RUNS = 11;
/** posix-mp's Lock pair must take at most 1/FACTOR of Python's. */
const FACTOR = 3;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const lock = new Lock({ name: uniqueName('lock'), exclusive: true });
    scope.defer(() => (lock.close(), lock.unlink()));
    const rlock = new RLock({ name: uniqueName('rlock'), exclusive: true });
    scope.defer(() => (rlock.close(), rlock.unlink()));
    const loop = (body) => ({ fn: () => { for (let i = 0; i < OPS; i++) body(); }, ops: OPS });

    const m = sampleInterleaved(
      {
        // The trivial call: reads one size_t from the addon's instance data and returns it as a Number.
        napi: loop(() => addon.pendingWaits()),
        lock: loop(() => (lock.acquireSync(), lock.release())),
        rlock: loop(() => (rlock.acquireSync(), rlock.release())),
        // Pieces of the Lock pair: the loop alone, and the fast path's two atomic operations alone on a word in
        // the same kind of shared mapping (64-bit, as the lock word, and 32-bit for comparison).
        empty: loop(() => {}),
        ...casLoops(scope.sharedMemory(16, 'cas')),
      },
      { runs: RUNS },
    );
    if (lock.locked() || rlock.locked()) throw new Error('a lock was left held');

    const limit = python.lock.median / FACTOR;
    return {
      rows: [
        { metric: 'trivial N-API call (addon.pendingWaits())', unit: 'ns/call', node: m.napi },
        {
          metric: 'Lock acquireSync() + release()',
          unit: 'ns/pair',
          node: m.lock,
          python: python.lock,
          target: `≤ Python / ${FACTOR} = ${limit.toFixed(0)} ns`,
          met: m.lock.median <= limit,
        },
        { metric: 'RLock acquireSync() + release()', unit: 'ns/pair', node: m.rlock, python: python.rlock },
      ],
      notes: [
        `Python: mp.Lock() and mp.RLock() (fork context), \`l.acquire(); l.release()\` in a loop, the two ` +
          `timed round-robin; ${OPS} pairs per run, median of ${RUNS} runs.`,
        breakdown(m),
      ],
    };
  } finally {
    scope.dispose();
  }
}

/** Where the Lock pair's time goes, from the round-robin measurements. */
function breakdown(m) {
  const ns = (x) => `${x.toFixed(0)} ns`;
  return (
    `breakdown of the Lock pair (${ns(m.lock.median)}): the loop alone ${ns(m.empty.median)}; the rest is two ` +
    `calls into WebAssembly, each one compare-and-swap on a mirror of the lock word's page (lib/sync/wasm_lock.ts), ` +
    `and posix-mp's JavaScript around them. The same two compare-and-swaps through Atomics.compareExchange on ` +
    `the shared BigUint64Array cost ${ns(m.cas64.median - m.empty.median)} by themselves (on an Int32Array ` +
    `${ns(m.cas32.median - m.empty.median)}): V8 in Node ${process.versions.node} does not inline Atomics ` +
    `calls, which is why Lock goes through WebAssembly, whose atomic instructions it compiles inline.`
  );
}

/**
 * Lock's fast path reduced to its two atomics: compare-and-swap 0 → token, then token → 0, on a 64-bit word in
 * a SharedMemory (the same kind of MAP_SHARED mapping a Lock lives in), and the same on a 32-bit word.
 */
function casLoops(shm) {
  const big = new BigUint64Array(shm.buf.buffer, shm.buf.byteOffset, 1);
  const small = new Int32Array(shm.buf.buffer, shm.buf.byteOffset + 8, 1);
  const token = 0x1234_0000_5678n;
  return {
    cas64: {
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          Atomics.compareExchange(big, 0, 0n, token);
          Atomics.compareExchange(big, 0, token, 0n);
        }
      },
      ops: OPS,
    },
    cas32: {
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          Atomics.compareExchange(small, 0, 0, 5678);
          Atomics.compareExchange(small, 0, 5678, 0);
        }
      },
      ops: OPS,
    },
  };
}
