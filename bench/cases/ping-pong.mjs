// Issue #2, metric 2: cross-process round trip through two named semaphores. This process posts PING and waits
// for PONG; a child process (workers/echo.mjs) waits for PING and posts PONG. Measured with this side
// waiting synchronously (acquireSync) and from the event loop (await acquire()); the echo side is always
// synchronous. Python: the same with mp.Semaphore and a forked mp.Process.
// Targets: sync no slower than Python; async at most 2x sync.
import { fileURLToPath } from 'node:url';

import { addon } from '../lib/addon.mjs';
import { RUNS, WARMUP, sample, scaled } from '../lib/measure.mjs';
import { Scope, firstLine } from '../lib/scope.mjs';

export const title = 'Cross-process semaphore ping-pong';
export const order = 20;

const TRIPS = 3000;
/** Ample for one run of TRIPS round trips; only reached if the echo process died. */
const TIMEOUT_MS = 30_000;
const ASYNC_FACTOR = 2;
const HANDOFFS = 20_000;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const ping = scope.semaphore(0, 'ping');
    const pong = scope.semaphore(0, 'pong');
    const worker = fileURLToPath(new URL('../workers/echo.mjs', import.meta.url));
    const total = String(2 * (RUNS + WARMUP) * TRIPS);
    const { child, exited } = scope.spawn(process.execPath, [worker, ping.name, pong.name, total]);
    await firstLine(child);

    const lost = () => new Error(`no answer from the echo process within ${TIMEOUT_MS} ms`);
    const switches = () => process.resourceUsage().voluntaryContextSwitches;
    const switches0 = switches();
    const sync = scaled(
      await sample(() => {
        for (let i = 0; i < TRIPS; i++) {
          ping.release();
          if (!pong.acquireSync({ timeout: TIMEOUT_MS })) throw lost();
        }
      }, { ops: TRIPS }),
      1000,
    );
    const switches1 = switches();
    const async = scaled(
      await sample(async () => {
        for (let i = 0; i < TRIPS; i++) {
          ping.release();
          if (!(await pong.acquire({ timeout: TIMEOUT_MS }))) throw lost();
        }
      }, { ops: TRIPS }),
      1000,
    );
    const switches2 = switches();
    await exited;
    if (child.exitCode !== 0) throw new Error(`echo process failed (exit ${child.exitCode ?? child.signalCode})`);
    const handoff = scaled(await measureHandoff(scope), 1000);

    const limit = ASYNC_FACTOR * sync.median;
    const perTrip = (n) => (n / ((RUNS + WARMUP) * TRIPS)).toFixed(2);
    const spread = (s) => `${s.min.toFixed(1)}–${s.max.toFixed(1)} µs`;
    return {
      rows: [
        {
          metric: 'round trip, acquireSync()',
          unit: 'µs',
          node: sync,
          python: python.sync,
          target: '≤ Python',
          met: sync.median <= python.sync.median,
        },
        {
          metric: 'round trip, await acquire()',
          unit: 'µs',
          node: async,
          python: python.sync,
          target: `≤ ${ASYNC_FACTOR}× sync = ${limit.toFixed(1)} µs`,
          met: async.median <= limit,
        },
        { metric: 'waiter hand-off alone (in-process)', unit: 'µs', node: handoff },
      ],
      notes: [
        `Python: mp.Semaphore pair, the echo side an mp.Process (fork); ${TRIPS} round trips per run. ` +
          'The async row is compared with the same Python (synchronous) round trip.',
        `run-to-run spread (min–max): posix-mp sync ${spread(sync)}, async ${spread(async)}; ` +
          `Python ${spread(python.sync)}.`,
        'voluntary context switches of this process (all threads) per round trip: ' +
          `sync ${perTrip(switches1 - switches0)}, async ${perTrip(switches2 - switches1)}.`,
        "async path: besides the echo process's wake-up, each await acquire() that has to wait wakes a waiter " +
          'thread (condition variable) and is woken back on the JS thread (uv_async). That hand-off alone, with ' +
          `no other process (a wait that succeeds at once), takes ${handoff.median.toFixed(1)} µs; in the round ` +
          "trip it partly overlaps the echo's wake-up: " +
          `async − sync = ${(async.median - sync.median).toFixed(1)} µs.`,
      ],
    };
  } finally {
    scope.dispose();
  }
}

/**
 * The cost the async path adds to a wait: a native wait that succeeds at once (the semaphore is posted
 * beforehand), run on a waiter thread, its result delivered to JS through the threadsafe function. Uses the
 * addon directly because posix-mp's acquire() takes the fast path (sem_trywait) when the value is positive.
 */
async function measureHandoff(scope) {
  const sem = scope.semaphore(0, 'handoff');
  const native = addon.Semaphore.open(`/${sem.name}`, 0, 0o600, 0).semaphore;
  scope.defer(() => native.close());
  return sample(async () => {
    for (let i = 0; i < HANDOFFS; i++) {
      native.post(1);
      await new Promise((resolve) => native.waitAsync(-1, resolve));
    }
  }, { ops: HANDOFFS });
}
