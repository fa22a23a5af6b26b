// Issue #2, metric 3: summing 1M doubles held in shared memory. posix-mp: a Float64Array over SharedMemory.buf,
// plain loop. Python: sum() over multiprocessing.Array('d', 1_000_000) (the default, lock=True, which takes
// the lock for every element it reads); the lock=False figure is reported as a note.
// Target: at least 50x faster than Python's sum().
import { sample, scaled } from '../lib/measure.mjs';
import { Scope } from '../lib/scope.mjs';

export const title = 'Sum of 1M doubles in shared memory';
export const order = 30;

const COUNT = 1_000_000;
const FACTOR = 50;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const shm = scope.sharedMemory(COUNT * Float64Array.BYTES_PER_ELEMENT, 'sum');
    const values = new Float64Array(shm.buf.buffer, shm.buf.byteOffset, COUNT);
    for (let i = 0; i < COUNT; i++) values[i] = i * 0.5;
    const expected = (0.5 * (COUNT - 1) * COUNT) / 2;

    let total = 0;
    const sum = scaled(
      await sample(() => {
        // A local accumulator: a captured one would be boxed, allocating a heap number per element.
        let s = 0;
        for (let i = 0; i < values.length; i++) s += values[i];
        total = s;
      }, { ops: 1, runs: 15, warmup: 5 }),
      1e6,
    );
    if (total !== expected) throw new Error(`sum is ${total}, expected ${expected}`);

    const ratio = python.locked.median / sum.median;
    return {
      rows: [
        {
          metric: 'sum 1M doubles (Python: Array, lock=True)',
          unit: 'ms',
          node: sum,
          python: python.locked,
          target: `≥ ${FACTOR}× faster than Python`,
          met: ratio >= FACTOR,
        },
      ],
      notes: [
        `Python sum() over mp.Array('d', ${COUNT}, lock=False): ${python.unlocked.median.toFixed(2)} ms ` +
          `(posix-mp ${(python.unlocked.median / sum.median).toFixed(0)}× faster). The ratio and target use the ` +
          'default lock=True Array, whose sum() takes the lock once per element.',
      ],
    };
  } finally {
    scope.dispose();
  }
}
