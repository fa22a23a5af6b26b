// Timing: every figure is the median of several timed runs after warm-up runs that are thrown away (they let
// V8 optimise the loop and the OS settle the processes). The machine is shared, so medians, not means.

/** Default number of timed runs. */
export const RUNS = 7;
/** Default number of discarded warm-up runs. */
export const WARMUP = 2;

/** Median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `{ median, min, max, runs }` of per-op figures. */
export function summarize(perOp) {
  return { median: median(perOp), min: Math.min(...perOp), max: Math.max(...perOp), runs: perOp };
}

/**
 * Times `fn()`, which performs `ops` operations, `warmup + runs` times; returns nanoseconds per operation
 * (median of the timed runs). `fn` may be async: it is awaited inside the timed interval. `setup()`, if
 * given, runs untimed before each run (e.g. to reset a semaphore's value).
 */
export async function sample(fn, { ops, runs = RUNS, warmup = WARMUP, setup }) {
  const perOp = [];
  for (let i = 0; i < warmup + runs; i++) {
    setup?.();
    const start = process.hrtime.bigint();
    const pending = fn();
    if (pending instanceof Promise) await pending;
    const elapsed = Number(process.hrtime.bigint() - start);
    if (i >= warmup) perOp.push(elapsed / ops);
  }
  return summarize(perOp);
}

/**
 * Like {@link sample} for several synchronous benchmarks at once, run round-robin (run 1 of each, then run 2
 * of each, …) so that figures to be compared with each other see the same machine load. `cases` maps a key
 * to `{ fn, ops, setup? }`; returns the same keys mapped to ns-per-op summaries.
 */
export function sampleInterleaved(cases, { runs = RUNS, warmup = WARMUP } = {}) {
  const perOp = Object.fromEntries(Object.keys(cases).map((key) => [key, []]));
  for (let i = 0; i < warmup + runs; i++) {
    for (const [key, { fn, ops, setup }] of Object.entries(cases)) {
      setup?.();
      const start = process.hrtime.bigint();
      fn();
      const elapsed = Number(process.hrtime.bigint() - start);
      if (i >= warmup) perOp[key].push(elapsed / ops);
    }
  }
  return Object.fromEntries(Object.entries(perOp).map(([key, values]) => [key, summarize(values)]));
}

/** A summary converted to another unit: every figure divided by `divisor` (e.g. 1000 for ns → µs). */
export function scaled({ median: m, min, max, runs }, divisor) {
  return { median: m / divisor, min: min / divisor, max: max / divisor, runs: runs.map((r) => r / divisor) };
}
