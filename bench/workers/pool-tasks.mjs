// Task functions of bench/cases/pool.mjs, exported so that Pool workers import them.
export function square(x) {
  return x * x;
}

/** A 10 ms task that does not use the CPU (Python: time.sleep(0.01)). */
export function sleep10(x) {
  return new Promise((resolve) => setTimeout(() => resolve(x), 10));
}
