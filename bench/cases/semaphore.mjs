// Issue #2, metric 1: an uncontended Semaphore operation against a trivial N-API call and against Python's
// multiprocessing.Semaphore. Target: each operation (acquire or release) within 2x of a trivial N-API call.
import { addon } from '../lib/addon.mjs';
import { sample, sampleInterleaved } from '../lib/measure.mjs';
import { Scope } from '../lib/scope.mjs';

export const title = 'Semaphore, uncontended';
export const order = 10;

const OPS = 200_000;
const ASYNC_OPS = 50_000;
/** Each run is short (tens of ms), so more of them for a steadier median on a shared machine. */
const RUNS = 11;
/** posix-mp must stay within this factor of a trivial N-API call per operation. */
const FACTOR = 2;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const sem = scope.semaphore(0, 'uncontended');
    // The addon's own wrapped semaphore object on the same semaphore, to split posix-mp's cost into the
    // TypeScript layer and the native call.
    const native = addon.Semaphore.open(`/${sem.name}`, 0, 0o600, 0).semaphore;
    scope.defer(() => native.close());
    const drain = () => {
      while (sem.acquireSync({ timeout: 0 }));
    };
    const fill = () => {
      drain();
      sem.release(OPS);
    };
    const loop = (body) => ({ fn: () => { for (let i = 0; i < OPS; i++) body(); }, ops: OPS });

    // Acquires run from OPS down to 0 (never blocking), releases from 0 up; the resets are not timed.
    // Everything whose figures are compared is measured round-robin, under the same load.
    const m = sampleInterleaved(
      {
        // The trivial call: reads one size_t from the addon's instance data and returns it as a Number.
        napi: loop(() => addon.pendingWaits()),
        acquire: { ...loop(() => sem.acquireSync()), setup: fill },
        release: { ...loop(() => sem.release()), setup: drain },
        pair: { ...loop(() => (sem.acquireSync(), sem.release())), setup: () => (drain(), sem.release()) },
        nativeGetValue: loop(() => native.getValue()),
        nativeWait: { ...loop(() => native.waitSync(-1)), setup: fill },
        nativePost: { ...loop(() => native.post(1)), setup: drain },
      },
      { runs: RUNS },
    );
    drain();
    sem.release();
    const asyncPair = await sample(async () => {
      for (let i = 0; i < ASYNC_OPS; i++) {
        await sem.acquire();
        sem.release();
      }
    }, { ops: ASYNC_OPS, runs: RUNS });

    const limit = FACTOR * m.napi.median;
    const perOp = (s) => ({ target: `≤ ${FACTOR}× N-API call = ${limit.toFixed(0)} ns`, met: s.median <= limit });
    const notes = [
      'Python: mp.Semaphore(1) (fork context), `s.acquire(); s.release()` in a loop (also the reference for the ' +
        '"await acquire()" row, which Python has no counterpart for).',
    ];
    if (m.acquire.median > limit || m.release.median > limit) notes.push(breakdown(m));
    return {
      rows: [
        { metric: 'trivial N-API call (addon.pendingWaits())', unit: 'ns/call', node: m.napi },
        { metric: 'acquireSync(), uncontended', unit: 'ns/op', node: m.acquire, ...perOp(m.acquire) },
        { metric: 'release(), no waiters', unit: 'ns/op', node: m.release, ...perOp(m.release) },
        {
          metric: 'acquireSync() + release()',
          unit: 'ns/pair',
          node: m.pair,
          python: python.pair,
          target: `≤ 2 × ${FACTOR}× N-API call = ${(2 * limit).toFixed(0)} ns`,
          met: m.pair.median <= 2 * limit,
        },
        { metric: 'await acquire() + release()', unit: 'ns/pair', node: asyncPair, python: python.pair },
      ],
      notes,
    };
  } finally {
    scope.dispose();
  }
}

/** Where an uncontended operation's time goes, from the round-robin measurements. */
function breakdown(m) {
  const ns = (x) => `${x.toFixed(0)} ns`;
  return (
    `breakdown: the addon's wrapped Semaphore object called directly (no TypeScript layer): post(1) ` +
    `${ns(m.nativePost.median)}, waitSync(-1) ${ns(m.nativeWait.median)}, and getValue() ` +
    `${ns(m.nativeGetValue.median)} although its native work is one load (sem_getvalue) — the floor of any ` +
    `instance-method call on a wrapped object (napi_unwrap of \`this\`, argument checks). posix-mp's ` +
    `TypeScript layer adds ${ns(m.release.median - m.nativePost.median)} to release() and ` +
    `${ns(m.acquire.median - m.nativeWait.median)} to acquireSync().`
  );
}
