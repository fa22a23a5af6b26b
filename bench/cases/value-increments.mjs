// Issue #3, metric 2: locked increments of one shared Value('i') by two processes at once. Each worker
// (workers/value-increments.mjs) does N times `v.getLock().withLockSync(() => { v.value += 1; })` — the
// Value's own default RLock, taken three times per increment (withLockSync, then re-entered by the value
// getter and setter), as in Python. A gate Event starts both at once so that they really contend. Combined
// rate = 2N / the wall-clock span from the first worker's start to the last one's end; every round must leave
// exactly 2N. Python: mp.Value('i') and two forked mp.Processes doing `with v.get_lock(): v.value += 1`.
// The same loop in one process alone is reported for context. Target: contended ≥ 3× Python's rate.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Event, Value } from 'posix-mp';

import { RUNS, WARMUP, sample, summarize } from '../lib/measure.mjs';
import { Scope, uniqueName } from '../lib/scope.mjs';

export const title = 'Value: locked increments, two processes';
export const order = 50;

const N = 200_000;
const WORKERS = 2;
const FACTOR = 3;
/** Ample for one round; only reached if a worker died. */
const TIMEOUT_MS = 30_000;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const v = new Value('i', 0, { name: uniqueName('value'), exclusive: true });
    scope.defer(() => (v.close(), v.unlink()));
    const gates = [0, 1].map((i) => {
      const gate = new Event({ name: uniqueName(`gate${i}`), exclusive: true });
      scope.defer(() => (gate.close(), gate.unlink()));
      return gate;
    });

    const contended = await measureContended(scope, v, gates);
    // This process alone, the loop the workers run (after the workers, so that it does not compete with them).
    v.value = 0;
    let alone = 0;
    const uncontended = await sample(() => {
      for (let i = 0; i < N; i++) {
        v.getLock().withLockSync(() => {
          v.value += 1;
        });
      }
      alone += N;
    }, { ops: N });
    if (v.value !== alone) throw new Error(`single process: Value is ${v.value}, expected ${alone}`);

    const limit = FACTOR * python.contended.median;
    return {
      rows: [
        {
          metric: `${WORKERS} processes × N locked increments`,
          unit: 'M incr/s',
          better: 'higher',
          node: contended.rate,
          python: python.contended,
          target: `≥ ${FACTOR}× Python = ${limit.toFixed(2)} M/s`,
          met: contended.rate.median >= limit,
        },
        {
          metric: 'locked increments, one process alone',
          unit: 'M incr/s',
          better: 'higher',
          node: perSecond(uncontended),
          python: python.uncontended,
        },
      ],
      notes: [
        `posix-mp N = ${N}, Python N = ${python.n} per process (Python is slower, so fewer, to keep the run ` +
          `short); combined rate = ${WORKERS}N ÷ (last worker's end − first worker's start), CLOCK_MONOTONIC ` +
          'read in the workers; every round checked to leave exactly ' +
          `${WORKERS}N. Median skew between the two workers' starts: posix-mp ` +
          `${contended.skewUs.toFixed(0)} µs, Python ${python.startSkewUs.toFixed(0)} µs.`,
        'Python: mp.Value("i") (its default RLock; fork context), `with v.get_lock(): v.value += 1`; the value ' +
          'property re-enters the lock for the read and for the write, as posix-mp\'s does.',
        `sleeps (voluntary context switches) per worker per round, median: posix-mp ${contended.sleeps} for ` +
          `${N} increments, Python ${python.sleeps} for ${python.n}. Neither lock is fair: a process that ` +
          'releases it takes it straight back before a woken waiter runs, so the two processes own the lock in ' +
          'long stretches and hand it over rarely. The combined rate is therefore of the order of one ' +
          'process\'s rate (the single-process row, measured at another moment): the lock serialises the ' +
          'increments; only the work outside it (the loop, getLock(), the closure) overlaps.',
      ],
    };
  } finally {
    scope.dispose();
  }
}

/** Runs WARMUP + RUNS rounds of both workers contending; returns the combined rates (M/s) and start skew. */
async function measureContended(scope, v, gates) {
  const worker = fileURLToPath(new URL('../workers/value-increments.mjs', import.meta.url));
  const rounds = WARMUP + RUNS;
  const workers = [];
  for (let w = 0; w < WORKERS; w++) {
    const { child, exited } = scope.spawn(process.execPath, [
      worker, v.name, gates[0].name, gates[1].name, String(N), String(rounds),
    ]);
    workers.push({ lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), child, exited });
  }
  const line = async ({ lines }) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from an incrementer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    try {
      const next = await Promise.race([lines.next(), timeout]);
      if (next.done) throw new Error('an incrementer exited early');
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  };
  for (const w of workers) if ((await line(w)) !== 'ready') throw new Error('incrementer did not start');

  const rates = [];
  const skews = [];
  const sleeps = [];
  for (let r = 0; r < rounds; r++) {
    v.value = 0;
    gates[r % 2].set();
    const spans = [];
    for (const w of workers) spans.push((await line(w)).split(' ').map(BigInt));
    gates[r % 2].clear();
    if (v.value !== WORKERS * N) throw new Error(`round ${r}: Value is ${v.value}, expected ${WORKERS * N}`);
    const firstStart = spans.reduce((m, [s]) => (s < m ? s : m), spans[0][0]);
    const lastStart = spans.reduce((m, [s]) => (s > m ? s : m), spans[0][0]);
    const lastEnd = spans.reduce((m, [, e]) => (e > m ? e : m), spans[0][1]);
    if (r >= WARMUP) {
      rates.push(((WORKERS * N) / Number(lastEnd - firstStart)) * 1e3);
      skews.push(Number(lastStart - firstStart) / 1e3);
      sleeps.push(...spans.map(([, , c]) => Number(c)));
    }
  }
  for (const { child, exited } of workers) {
    await exited;
    if (child.exitCode !== 0) throw new Error(`incrementer failed (exit ${child.exitCode ?? child.signalCode})`);
  }
  return { rate: summarize(rates), skewUs: summarize(skews).median, sleeps: summarize(sleeps).median };
}

/** ns-per-increment summary → millions of increments per second. */
function perSecond(nsPerOp) {
  return summarize(nsPerOp.runs.map((ns) => 1e3 / ns));
}
