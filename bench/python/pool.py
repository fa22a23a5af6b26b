"""Issue #11: Pool(4) throughput and start-up (default start method), for bench/cases/pool.mjs.
Tasks per second for map with chunksize 1, items per second for map over 1,000,000 small ints with the
default chunksize, overhead per task (ms) of imap_unordered over 10 ms tasks, and Pool(4) start -> first
result (ms)."""
import multiprocessing as mp
import time

from benchutil import emit, sample

PROCESSES = 4
CHUNK1_TASKS = 10_000
BIG_ITEMS = 1_000_000
SLEEP_TASKS = 200
SLEEP_S = 0.01


def square(x):
    return x * x


def sleep10(x):
    time.sleep(SLEEP_S)
    return x


def first_result():
    start = time.perf_counter_ns()
    with mp.Pool(PROCESSES) as pool:
        pool.apply(square, (7,))
        elapsed = time.perf_counter_ns() - start
        pool.terminate()
    return elapsed / 1e6


def main():
    start_ms = [first_result() for _ in range(7)]
    with mp.Pool(PROCESSES) as pool:
        pool.map(square, range(100))
        chunk1 = sample(lambda: pool.map(square, range(CHUNK1_TASKS), chunksize=1), CHUNK1_TASKS, runs=7, warmup=2)
        items = list(range(BIG_ITEMS))
        big = sample(lambda: pool.map(square, items), BIG_ITEMS, runs=5, warmup=1)
        sleepy = sample(lambda: list(pool.imap_unordered(sleep10, range(SLEEP_TASKS))), SLEEP_TASKS, runs=5, warmup=1)
    def per_s(s):
        return {"median": 1e9 / s["median"], "min": 1e9 / s["max"], "max": 1e9 / s["min"], "runs": [1e9 / x for x in s["runs"]]}

    # Wall time per task x processes, minus the task's own 10 ms: what running one task adds.
    overhead = lambda s: {k: (v * PROCESSES / 1e6 - SLEEP_S * 1e3 if k != "runs" else [x * PROCESSES / 1e6 - SLEEP_S * 1e3 for x in v]) for k, v in s.items()}
    start_ms.sort()
    emit({
        "method": mp.get_start_method(),
        "chunk1": per_s(chunk1),
        "big": per_s(big),
        "sleepy": overhead(sleepy),
        "start": {"median": start_ms[len(start_ms) // 2], "min": start_ms[0], "max": start_ms[-1], "runs": start_ms},
    })


if __name__ == "__main__":
    main()
