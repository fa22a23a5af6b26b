// Issue #12: SharedDict and SharedList (what Manager().dict() and .list() make) against Python's manager
// proxies. Metric 1: `d.set(k, v)` then `d.get(k)` from one process, 1,000 distinct keys (pairs/s); Python:
// `d[k] = v; d[k]` on a Manager().dict(). Metric 2: 4 processes (workers/list-append.mjs) appending 10,000
// items each to one list, started together by a gate Event; combined rate = 40,000 ÷ (last worker's end −
// first worker's start), CLOCK_MONOTONIC read in the workers; every round must leave exactly 40,000 items,
// each once. Targets: both ≥ 10× Python's.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Event, SharedDict, SharedList } from 'posix-mp';

import { RUNS, WARMUP, sample, summarize } from '../lib/measure.mjs';
import { Scope, uniqueName } from '../lib/scope.mjs';

export const title = 'Managers: SharedDict set+get, SharedList appends from 4 processes';
export const order = 70;

const PAIRS = 100_000;
const WORKERS = 4;
const PER_WORKER = 10_000;
const FACTOR = 10;
/** Ample for one round; only reached if a worker died. */
const TIMEOUT_MS = 30_000;

export async function run({ python }) {
  const scope = new Scope();
  try {
    const dict = new SharedDict(undefined, { name: uniqueName('dict'), exclusive: true });
    scope.defer(() => (dict.close(), dict.unlink()));
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const pairs = await sample(() => {
      for (let i = 0; i < PAIRS; i++) {
        const key = keys[i % 1000];
        dict.set(key, i);
        if (dict.get(key) !== i) throw new Error(`get(${key}) is not ${i}`);
      }
    }, { ops: PAIRS });

    const list = new SharedList(undefined, { name: uniqueName('list'), exclusive: true });
    scope.defer(() => (list.close(), list.unlink()));
    const gates = [0, 1].map((i) => {
      const gate = new Event({ name: uniqueName(`gate${i}`), exclusive: true });
      scope.defer(() => (gate.close(), gate.unlink()));
      return gate;
    });
    const append = await measureAppends(scope, list, gates);

    const pairRate = perSecond(pairs);
    const pythonPairs = perSecond(python.pair);
    return {
      rows: [
        {
          metric: 'dict set + get pairs, one process',
          unit: 'k pairs/s',
          better: 'higher',
          node: pairRate,
          python: pythonPairs,
          target: `≥ ${FACTOR}× Python = ${(FACTOR * pythonPairs.median).toFixed(1)} k/s`,
          met: pairRate.median >= FACTOR * pythonPairs.median,
        },
        {
          metric: `${WORKERS} processes × ${PER_WORKER} list appends`,
          unit: 'k appends/s',
          better: 'higher',
          node: append,
          python: thousands(python.append),
          target: `≥ ${FACTOR}× Python = ${((FACTOR * python.append.median) / 1e3).toFixed(1)} k/s`,
          met: append.median >= (FACTOR * python.append.median) / 1e3,
        },
      ],
      notes: [
        `posix-mp: ${PAIRS} pairs per run; Python: 5,000 pairs and 3 timed runs after 1 warm-up (each call is a ` +
          'round trip to the manager server). Values are small integers, keys strings of 2-4 characters.',
        'Appends: every round checked to hold exactly 40,000 items, each once; the list is cleared between ' +
          'rounds. Python: Manager().list() and 4 forked mp.Processes.',
      ],
    };
  } finally {
    scope.dispose();
  }
}

async function measureAppends(scope, list, gates) {
  const worker = fileURLToPath(new URL('../workers/list-append.mjs', import.meta.url));
  const rounds = WARMUP + RUNS;
  const workers = [];
  for (let w = 0; w < WORKERS; w++) {
    const { child, exited } = scope.spawn(process.execPath, [
      worker, list.name, gates[0].name, gates[1].name, String(w * PER_WORKER), String(PER_WORKER), String(rounds),
    ]);
    workers.push({ lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), child, exited });
  }
  const line = async ({ lines }) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from an appender within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    try {
      const next = await Promise.race([lines.next(), timeout]);
      if (next.done) throw new Error('an appender exited early');
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  };
  for (const w of workers) if ((await line(w)) !== 'ready') throw new Error('appender did not start');

  const rates = [];
  for (let r = 0; r < rounds; r++) {
    list.clear();
    gates[r % 2].set();
    const spans = [];
    for (const w of workers) spans.push((await line(w)).split(' ').map(BigInt));
    gates[r % 2].clear();
    const items = list.toArray();
    if (items.length !== WORKERS * PER_WORKER || new Set(items).size !== items.length) {
      throw new Error(`round ${r}: the list holds ${items.length} items (${new Set(items).size} distinct), expected ${WORKERS * PER_WORKER}`);
    }
    const firstStart = spans.reduce((m, [s]) => (s < m ? s : m), spans[0][0]);
    const lastEnd = spans.reduce((m, [, e]) => (e > m ? e : m), spans[0][1]);
    if (r >= WARMUP) rates.push(((WORKERS * PER_WORKER) / Number(lastEnd - firstStart)) * 1e6);
  }
  for (const { child, exited } of workers) {
    await exited;
    if (child.exitCode !== 0) throw new Error(`appender failed (exit ${child.exitCode ?? child.signalCode})`);
  }
  return summarize(rates);
}

/** ns-per-op summary → thousands of operations per second. */
function perSecond(nsPerOp) {
  return summarize(nsPerOp.runs.map((ns) => 1e6 / ns));
}

/** ops/s summary → thousands per second. */
function thousands({ runs }) {
  return summarize(runs.map((rate) => rate / 1e3));
}
