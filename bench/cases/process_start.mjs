// Issue #4: Process start → target running → join() for a trivial target. A child is a fresh Node (~140 ms
// of CPU to boot here), so posix-mp keeps a prepared interpreter: one that has booted and waits for its job.
// Measured with one ready (this process pauses between samples so that the replacement of the one just used
// has booted) and with preparation turned off (every start boots a cold Node). Python: the same trivial
// target with the fork and the spawn start methods.
import { getPreparedInterpreters, Process, setPreparedInterpreters } from 'posix-mp';

import { summarize, WARMUP } from '../lib/measure.mjs';

export const title = 'Process start → join';
export const order = 90;

/** The target: exported from this module, which the child imports (the seeds' pattern). */
export function noop() {}

const PREPARED_SAMPLES = 21;
const COLD_SAMPLES = 7;
/** Between prepared samples: the used interpreter's replacement boots (~150 ms of CPU) in the meantime. */
const PAUSE_MS = 400;
const TARGET_MS = 10;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds from start() to the resolution of join(). */
async function startJoin() {
  const p = new Process({ target: noop });
  const start = process.hrtime.bigint();
  p.start();
  await p.join();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
  p.close();
  return ms;
}

async function samples(count, pause) {
  const ms = [];
  for (let i = 0; i < WARMUP + count; i++) {
    await sleep(pause);
    const t = await startJoin();
    if (i >= WARMUP) ms.push(t);
  }
  return summarize(ms);
}

export async function run({ python }) {
  const previous = getPreparedInterpreters();
  try {
    setPreparedInterpreters(1);
    const prepared = await samples(PREPARED_SAMPLES, PAUSE_MS);
    setPreparedInterpreters(0);
    const cold = await samples(COLD_SAMPLES, 50);
    return {
      rows: [
        {
          metric: 'start → join, prepared interpreter',
          unit: 'ms',
          node: prepared,
          python: python?.fork,
          target: `≤ ${TARGET_MS} ms`,
          met: prepared.median <= TARGET_MS,
        },
        { metric: 'start → join, cold Node (preparation off)', unit: 'ms', node: cold, python: python?.spawn },
      ],
      notes: [
        'Python: fork start method for the first row (the child is a copy of the parent, nothing to boot), ' +
          'spawn start method (a fresh interpreter, like every posix-mp child) for the second.',
        `prepared runs ${prepared.min.toFixed(1)}–${prepared.max.toFixed(1)} ms, cold ` +
          `${cold.min.toFixed(0)}–${cold.max.toFixed(0)} ms. A prepared start only hides the boot: each start ` +
          'still costs a Node boot of CPU, spent in the background while the pool is refilled.',
      ],
    };
  } finally {
    setPreparedInterpreters(previous);
  }
}
