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

/** Whether `pid` still exists (a zombie does; a reaped process does not). */
function exists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Milliseconds from start() to the resolution of join(), and to the child's reaping: join() resolves on the
 * child's exit report, sent just before its _exit(); the kernel then frees the child's memory, and only after
 * that can it be reaped.
 */
async function startJoin() {
  // Prepared interpreters serve the 'spawn' start method (forkserver_start.mjs measures 'forkserver').
  const p = new Process({ target: noop, startMethod: 'spawn' });
  const start = process.hrtime.bigint();
  p.start();
  const pid = p.pid;
  await p.join();
  const joined = Number(process.hrtime.bigint() - start) / 1e6;
  // Polled every millisecond: a busier loop would compete for a CPU with the dying child.
  while (exists(pid)) await sleep(1);
  const reaped = Number(process.hrtime.bigint() - start) / 1e6;
  if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
  p.close();
  return { joined, reaped };
}

async function samples(count, pause) {
  const joined = [];
  const reaped = [];
  for (let i = 0; i < WARMUP + count; i++) {
    await sleep(pause);
    const t = await startJoin();
    if (i >= WARMUP) {
      joined.push(t.joined);
      reaped.push(t.reaped);
    }
  }
  return { joined: summarize(joined), reaped: summarize(reaped) };
}

export async function run({ python }) {
  const previous = getPreparedInterpreters();
  try {
    setPreparedInterpreters(1);
    const { joined: prepared, reaped } = await samples(PREPARED_SAMPLES, PAUSE_MS);
    setPreparedInterpreters(0);
    const { joined: cold } = await samples(COLD_SAMPLES, 50);
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
        // Python's join() returns once its child is reaped: this row is the like-for-like comparison.
        { metric: 'start → child reaped, prepared interpreter', unit: 'ms', node: reaped, python: python?.fork },
        { metric: 'start → join, cold Node (preparation off)', unit: 'ms', node: cold, python: python?.spawn },
      ],
      notes: [
        'Python: fork start method for the first row (the child is a copy of the parent, nothing to boot), ' +
          'spawn start method (a fresh interpreter, like every posix-mp child) for the last. Python\'s join() ' +
          'returns once the child is reaped, hence the second row, polled every millisecond.',
        `join() resolves on the exit status the child sends just before _exit(); the kernel then frees the ` +
          `child's memory and descriptors, and only then is it reaped (second row: ` +
          `${(reaped.median - prepared.median).toFixed(1)} ms later at the median; page-table work is slow on ` +
          'this virtual machine).',
        `prepared runs ${prepared.min.toFixed(1)}–${prepared.max.toFixed(1)} ms, cold ` +
          `${cold.min.toFixed(0)}–${cold.max.toFixed(0)} ms. A prepared start only hides the boot: each start ` +
          'still costs a Node boot of CPU, spent in the background while the pool is refilled.',
      ],
    };
  } finally {
    setPreparedInterpreters(previous);
  }
}
