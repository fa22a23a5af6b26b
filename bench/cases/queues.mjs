// Issue #10, metric 7: Queue throughput between processes. Producer processes (workers/queue-producer.mjs)
// put items on a named Queue; this process takes them with getSync. Timed from handing the producers their
// job to taking the last item. Python: the same with mp.Queue and forked mp.Process producers.
// Targets: 1→1 small ints ≥ 5× Python's messages/s, 1→1 1 KB objects ≥ 3×.
import { fileURLToPath } from 'node:url';

import { Queue } from 'posix-mp';
import { sample } from '../lib/measure.mjs';
import { Scope, firstLine, uniqueName } from '../lib/scope.mjs';

export const title = 'Queue throughput between processes';
export const order = 40;

const INTS = 100_000;
const OBJECTS = 20_000;
const BIG = 2;
const PRODUCERS = 4;
const RUNS = 5;
const WARMUP = 1;
const TIMEOUT_MS = 60_000;

/** Nanoseconds per message → messages per second (min and max swap). */
function perSecond({ median, min, max, runs }) {
  return { median: 1e9 / median, min: 1e9 / max, max: 1e9 / min, runs: runs.map((r) => 1e9 / r) };
}

/** Nanoseconds per message → milliseconds per message. */
function ms({ median, min, max, runs }) {
  return { median: median / 1e6, min: min / 1e6, max: max / 1e6, runs: runs.map((r) => r / 1e6) };
}

function queue(scope, tag) {
  const q = new Queue(0, { name: uniqueName(tag), exclusive: true });
  scope.defer(() => {
    q.close();
    q.unlink();
  });
  return q;
}

export async function run({ python }) {
  const scope = new Scope();
  try {
    const control = queue(scope, 'queue-control');
    const data = queue(scope, 'queue-data');
    const worker = fileURLToPath(new URL('../workers/queue-producer.mjs', import.meta.url));
    const producers = Array.from({ length: PRODUCERS }, () => scope.spawn(process.execPath, [worker, control.name, data.name]));
    for (const { child } of producers) await firstLine(child);

    /** Hands `producers` producers a job of `count` items each and takes them all. */
    const transfer = (kind, count, producersUsed) => () => {
      for (let p = 0; p < producersUsed; p++) control.putSync({ kind, count });
      for (let i = count * producersUsed; i > 0; i--) data.getSync({ timeout: TIMEOUT_MS });
    };
    const options = (ops) => ({ ops, runs: RUNS, warmup: WARMUP });
    const ints = perSecond(await sample(transfer('int', INTS, 1), options(INTS)));
    const objects = perSecond(await sample(transfer('kb', OBJECTS, 1), options(OBJECTS)));
    const fanIn = perSecond(await sample(transfer('int', INTS / PRODUCERS, PRODUCERS), options(INTS)));
    const big = ms(await sample(transfer('big', BIG, 1), options(BIG)));

    for (let p = 0; p < PRODUCERS; p++) control.putSync('stop');
    await Promise.all(producers.map(({ exited }) => exited));
    return {
      rows: [
        { metric: 'Queue 1→1 small ints', unit: 'msg/s', node: ints, python: python.ints, better: 'higher', target: '≥ 5× Python', met: ints.median >= 5 * python.ints.median },
        { metric: 'Queue 1→1 1 KB objects', unit: 'msg/s', node: objects, python: python.objects, better: 'higher', target: '≥ 3× Python', met: objects.median >= 3 * python.objects.median },
        { metric: `Queue ${PRODUCERS} producers → 1 consumer, small ints`, unit: 'msg/s', node: fanIn, python: python.fanIn, better: 'higher' },
        { metric: 'Queue 1→1 one 64 MiB Buffer (default 1 MiB ring)', unit: 'ms', node: big, python: python.big },
      ],
      notes: [
        `Python: mp.Queue, producers forked mp.Process; ${INTS} ints, ${OBJECTS} objects { id, name, payload: 1000 chars } ` +
          `per run; the 64 MiB message is bytes in Python, a Buffer here (streamed through the ring in 512 KiB parts).`,
      ],
    };
  } finally {
    scope.dispose();
  }
}
