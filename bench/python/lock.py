"""Issue #3, metric 1: multiprocessing.Lock and RLock acquire() + release(), uncontended (fork context).
Nanoseconds per pair; the two are timed round-robin (run i of each before run i + 1 of either), like the
Node side, so that both see the same machine load."""
import multiprocessing as mp
import time

from benchutil import WARMUP, emit, summarize

OPS = 200_000
RUNS = 11


def pairs(lock):
    start = time.perf_counter_ns()
    for _ in range(OPS):
        lock.acquire()
        lock.release()
    return (time.perf_counter_ns() - start) / OPS


def main():
    ctx = mp.get_context("fork")
    locks = {"lock": ctx.Lock(), "rlock": ctx.RLock()}
    per_op = {key: [] for key in locks}
    for i in range(WARMUP + RUNS):
        for key, lock in locks.items():
            ns = pairs(lock)
            if i >= WARMUP:
                per_op[key].append(ns)
    emit({key: summarize(values) for key, values in per_op.items()})


if __name__ == "__main__":
    main()
