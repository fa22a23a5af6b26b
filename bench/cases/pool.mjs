// Issue #11: Pool(4), side by side with Python's multiprocessing.Pool(4) (default start method): map with
// chunksize 1 (tasks/s, target ≥ 3× Python), map over 1,000,000 small ints with the default chunksize
// (items/s, target ≥ 2× Python), imapUnordered over 200 tasks of 10 ms (what each task adds: wall time ×
// processes / tasks − 10 ms), and Pool(4) start → first result, with the default single prepared
// interpreter and with four prepared ahead of time.
import { getPreparedInterpreters, Pool, setPreparedInterpreters } from 'posix-mp';

import { sample, summarize } from '../lib/measure.mjs';
import { square, sleep10 } from '../workers/pool-tasks.mjs';

export const title = 'Pool';
export const order = 95;

const PROCESSES = 4;
const CHUNK1_TASKS = 10_000;
const BIG_ITEMS = 1_000_000;
const SLEEP_TASKS = 200;
const SLEEP_MS = 10;
const START_SAMPLES = 5;
/** Between start samples: the prepared interpreters used are replaced (Node boots) meanwhile. */
const START_PAUSE_MS = 2500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** ns per op → ops per second (min and max swap). */
function perSecond({ median, min, max, runs }) {
  return { median: 1e9 / median, min: 1e9 / max, max: 1e9 / min, runs: runs.map((r) => 1e9 / r) };
}

/** ns per task of a 10 ms task over the pool → what one task adds (ms). */
function overhead({ median, min, max, runs }) {
  const f = (ns) => (ns * PROCESSES) / 1e6 - SLEEP_MS;
  return { median: f(median), min: f(min), max: f(max), runs: runs.map(f) };
}

async function startToFirst(prepared) {
  const previous = getPreparedInterpreters();
  setPreparedInterpreters(prepared);
  const times = [];
  try {
    for (let i = 0; i < START_SAMPLES; i++) {
      await sleep(START_PAUSE_MS);
      const start = process.hrtime.bigint();
      const pool = new Pool(PROCESSES);
      try {
        await pool.apply(square, [7]);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      } finally {
        await pool.terminate();
      }
    }
  } finally {
    setPreparedInterpreters(previous);
  }
  return summarize(times);
}

export async function run({ python }) {
  const pool = new Pool(PROCESSES);
  let chunk1, big, sleepy;
  try {
    await pool.map(square, Array.from({ length: 100 }, (_, i) => i));
    const small = Array.from({ length: CHUNK1_TASKS }, (_, i) => i);
    chunk1 = perSecond(await sample(() => pool.map(square, small, { chunksize: 1 }), { ops: CHUNK1_TASKS, runs: 7, warmup: 2 }));
    const items = Array.from({ length: BIG_ITEMS }, (_, i) => i);
    big = perSecond(await sample(() => pool.map(square, items), { ops: BIG_ITEMS, runs: 5, warmup: 1 }));
    const sleepers = Array.from({ length: SLEEP_TASKS }, (_, i) => i);
    sleepy = overhead(
      await sample(
        async () => {
          for await (const _ of pool.imapUnordered(sleep10, sleepers));
        },
        { ops: SLEEP_TASKS, runs: 5, warmup: 1 },
      ),
    );
  } finally {
    await pool.terminate();
  }
  const startDefault = await startToFirst(1);
  const startPrepared = await startToFirst(PROCESSES);
  return {
    rows: [
      { metric: 'Pool(4) map, chunksize 1', unit: 'tasks/s', node: chunk1, python: python?.chunk1, better: 'higher', target: '≥ 3×', met: python ? chunk1.median >= 3 * python.chunk1.median : undefined },
      { metric: 'Pool(4) map of 1,000,000 ints, default chunksize', unit: 'items/s', node: big, python: python?.big, better: 'higher', target: '≥ 2×', met: python ? big.median >= 2 * python.big.median : undefined },
      { metric: 'Pool(4) imapUnordered, 10 ms tasks: overhead per task', unit: 'ms', node: sleepy, python: python?.sleepy },
      { metric: 'Pool(4) start → first result (1 prepared interpreter, the default)', unit: 'ms', node: startDefault, python: python?.start },
      { metric: 'Pool(4) start → first result (4 prepared ahead)', unit: 'ms', node: startPrepared, python: python?.start },
    ],
    notes: [
      `Python's start method here: ${python?.method ?? '?'} (a forked worker has nothing to boot; a posix-mp worker is a fresh Node, ` +
        'started in parallel through Process; the fork server start method will cut this).',
      'Overhead per task = wall time × processes / tasks − 10 ms: what running a task through the pool adds to it (lower is better).',
      'Start → first result: new Pool(4), apply() of a trivial task, after a pause in which the prepared interpreters have booted; a program whose first Pool starts while they are still booting pays one Node boot (~0.3–1 s on this loaded machine).',
    ],
  };
}
