// Issue #3, metric 3: how fast a set() in one process wakes a wait() in another, measured as a round trip
// through two named Events. This process sets A and waits for B; a child process (workers/event-echo.mjs)
// waits for A, clears it and sets B; this process then clears B and starts the next trip. One round trip is
// two set → woken-waiter hand-offs (one each way). Measured with this side waiting synchronously (waitSync)
// and from the event loop (await wait()); the echo side always waits synchronously. Python: the same with two
// mp.Events and a forked mp.Process. No target: reported for comparison.
import { fileURLToPath } from 'node:url';

import { Event } from 'posix-mp';

import { RUNS, WARMUP, sample, scaled } from '../lib/measure.mjs';
import { Scope, firstLine, uniqueName } from '../lib/scope.mjs';

export const title = 'Event set → wake, cross-process';
export const order = 60;

const TRIPS = 3000;
/** Ample for one run of TRIPS round trips; only reached if the echo process died. */
const TIMEOUT_MS = 30_000;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const [a, b] = ['a', 'b'].map((tag) => {
      const event = new Event({ name: uniqueName(`event-${tag}`), exclusive: true });
      scope.defer(() => (event.close(), event.unlink()));
      return event;
    });
    const worker = fileURLToPath(new URL('../workers/event-echo.mjs', import.meta.url));
    const total = String(2 * (RUNS + WARMUP) * TRIPS);
    const { child, exited } = scope.spawn(process.execPath, [worker, a.name, b.name, total]);
    await firstLine(child);

    const lost = () => new Error(`no answer from the echo process within ${TIMEOUT_MS} ms`);
    const sync = scaled(
      await sample(() => {
        for (let i = 0; i < TRIPS; i++) {
          a.set();
          if (!b.waitSync({ timeout: TIMEOUT_MS })) throw lost();
          b.clear();
        }
      }, { ops: TRIPS }),
      1000,
    );
    const async = scaled(
      await sample(async () => {
        for (let i = 0; i < TRIPS; i++) {
          a.set();
          if (!(await b.wait({ timeout: TIMEOUT_MS }))) throw lost();
          b.clear();
        }
      }, { ops: TRIPS }),
      1000,
    );
    await exited;
    if (child.exitCode !== 0) throw new Error(`echo process failed (exit ${child.exitCode ?? child.signalCode})`);

    const spread = (s) => `${s.min.toFixed(1)}–${s.max.toFixed(1)} µs`;
    const half = (s) => (s.median / 2).toFixed(1);
    return {
      rows: [
        { metric: 'round trip (2 hand-offs), waitSync()', unit: 'µs', node: sync, python: python.sync },
        { metric: 'round trip (2 hand-offs), await wait()', unit: 'µs', node: async, python: python.sync },
      ],
      notes: [
        `figures are whole round trips (A set → echo woken → B set → this side woken), ${TRIPS} per run. One ` +
          `set → woken-waiter hand-off, with both sides waiting synchronously, is half of that: posix-mp ` +
          `${half(sync)} µs, Python ${half(python.sync)} µs. The echo's hand-off is the same in the async row, ` +
          `so there the hand-off to this side's event loop takes about ` +
          `${(async.median - sync.median / 2).toFixed(1)} µs (waiter thread woken by the futex, then the JS ` +
          'thread woken by the waiter thread).',
        'Python: two mp.Event (fork context), the echo side a forked mp.Process; the async row is compared with ' +
          'the same Python (synchronous) round trip.',
        `run-to-run spread (min–max): posix-mp sync ${spread(sync)}, async ${spread(async)}; ` +
          `Python ${spread(python.sync)}.`,
      ],
    };
  } finally {
    scope.dispose();
  }
}
