"""Issue #3, metric 2: locked increments of one mp.Value('i'). Two forked mp.Processes each do N times
`with v.get_lock(): v.value += 1`, started together by a gate (an mp.Event); combined rate = 2N / the
wall-clock span from the first worker's start to the last one's end (CLOCK_MONOTONIC, shared by the
processes), checked to leave exactly 2N; each worker also reports its voluntary context switches during the
loop (its sleeps). Also the same loop in this process alone (no contention). Millions of increments/s."""
import multiprocessing as mp
import resource
import statistics
import time

from benchutil import RUNS, WARMUP, emit, sample, summarize

N = 40_000
WORKERS = 2
TIMEOUT_S = 30


def increments(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def worker(v, gates, results, rounds):
    # Round r waits on gates[r % 2]: the parent clears a gate once every worker is past it, long before it
    # is used again two rounds later.
    for r in range(rounds):
        if not gates[r % 2].wait(TIMEOUT_S):
            raise SystemExit("worker: no start signal")
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        start = time.monotonic_ns()
        increments(v, N)
        end = time.monotonic_ns()
        results.put((start, end, resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches))


def contended(ctx):
    v = ctx.Value("i", 0)
    gates = (ctx.Event(), ctx.Event())
    results = ctx.SimpleQueue()
    rounds = WARMUP + RUNS
    procs = [ctx.Process(target=worker, args=(v, gates, results, rounds), daemon=True) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    rates, skews, sleeps = [], [], []
    for r in range(rounds):
        v.value = 0
        gates[r % 2].set()
        spans = [results.get() for _ in range(WORKERS)]
        gates[r % 2].clear()
        if v.value != WORKERS * N:
            raise SystemExit(f"lost increments: {v.value} != {WORKERS * N}")
        first_start = min(s for s, _, _ in spans)
        last_end = max(e for _, e, _ in spans)
        if r >= WARMUP:
            rates.append(WORKERS * N / (last_end - first_start) * 1e3)  # per ns -> M/s
            skews.append((max(s for s, _, _ in spans) - first_start) / 1e3)
            sleeps.extend(c for _, _, c in spans)
    for p in procs:
        p.join(TIMEOUT_S)
        if p.exitcode != 0:
            raise SystemExit(f"worker exit code {p.exitcode}")
    return summarize(rates), statistics.median(skews), statistics.median(sleeps)


def main():
    ctx = mp.get_context("fork")
    rates, skew_us, sleeps = contended(ctx)
    v = ctx.Value("i", 0)
    alone = sample(lambda: increments(v, N), N)
    emit({
        "n": N,
        "contended": rates,
        "startSkewUs": skew_us,
        "sleeps": sleeps,
        "uncontended": summarize([1e3 / ns for ns in alone["runs"]]),
    })


if __name__ == "__main__":
    main()
