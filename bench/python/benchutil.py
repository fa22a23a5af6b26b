"""Timing helpers shared by the Python benchmarks (mirror of bench/lib/measure.mjs): the median of several
timed runs after discarded warm-up runs, in nanoseconds per operation. Run directly, it prints the version."""
import json
import statistics
import sys
import time

RUNS = 7
WARMUP = 2


def summarize(per_op):
    return {"median": statistics.median(per_op), "min": min(per_op), "max": max(per_op), "runs": per_op}


def sample(fn, ops, runs=RUNS, warmup=WARMUP):
    """Times fn(), which performs `ops` operations, warmup + runs times; returns ns per operation."""
    per_op = []
    for i in range(warmup + runs):
        start = time.perf_counter_ns()
        fn()
        elapsed = time.perf_counter_ns() - start
        if i >= warmup:
            per_op.append(elapsed / ops)
    return summarize(per_op)


def emit(results):
    """Prints the results as the one JSON object run.mjs reads."""
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    emit({"python": sys.version.split()[0]})
