"""Issue #12: Manager().dict() and Manager().list(), the proxies every process talks to the manager's server
through. Metric 1: d[k] = v followed by d[k], from one process (pairs/s). Metric 2: 4 forked processes
appending 10,000 items each to one manager list, started together by a gate (an mp.Event); combined rate =
40,000 / (last worker's end - first worker's start), CLOCK_MONOTONIC read in the workers; every round checked
to leave exactly 40,000 items. Python is slow here, so fewer rounds than the default."""
import multiprocessing as mp
import time

from benchutil import emit, sample, summarize

PAIRS = 5_000
WORKERS = 4
PER_WORKER = 10_000
RUNS = 3
WARMUP = 1
TIMEOUT_S = 120


def appender(lst, gates, results, base, rounds):
    for r in range(rounds):
        if not gates[r % 2].wait(TIMEOUT_S):
            raise SystemExit("appender: no start signal")
        start = time.monotonic_ns()
        for i in range(PER_WORKER):
            lst.append(base + i)
        results.put((start, time.monotonic_ns()))


def main():
    ctx = mp.get_context("fork")
    with ctx.Manager() as manager:
        d = manager.dict()

        def pairs():
            for i in range(PAIRS):
                key = "k%d" % (i % 1000)
                d[key] = i
                d[key]

        pair = sample(pairs, PAIRS, runs=RUNS, warmup=WARMUP)

        lst = manager.list()
        gates = (ctx.Event(), ctx.Event())
        results = ctx.SimpleQueue()
        rounds = WARMUP + RUNS
        procs = [
            ctx.Process(target=appender, args=(lst, gates, results, w * PER_WORKER, rounds), daemon=True)
            for w in range(WORKERS)
        ]
        for p in procs:
            p.start()
        rates = []
        for r in range(rounds):
            del lst[:]
            gates[r % 2].set()
            spans = [results.get() for _ in range(WORKERS)]
            gates[r % 2].clear()
            if len(lst) != WORKERS * PER_WORKER:
                raise SystemExit(f"list has {len(lst)} items, expected {WORKERS * PER_WORKER}")
            if r >= WARMUP:
                span = max(e for _, e in spans) - min(s for s, _ in spans)
                rates.append(WORKERS * PER_WORKER / span * 1e9)
        for p in procs:
            p.join(TIMEOUT_S)
            if p.exitcode != 0:
                raise SystemExit(f"appender exit code {p.exitcode}")
        emit({"pair": pair, "append": summarize(rates)})


if __name__ == "__main__":
    main()
