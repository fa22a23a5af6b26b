"""Issue #14: Python's fork start method, the yardstick of posix-mp's 'forkserver': one start -> join, 8 started
at once then joined, 20 start -> join back to back (milliseconds), and the CPU time one start costs the
parent and the child together (milliseconds, over 40 starts)."""
import multiprocessing as mp
import os
import time

from benchutil import emit, sample

ctx = mp.get_context("fork")


def noop():
    pass


def start_join():
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"child exit code {p.exitcode}")


def burst(n):
    def run():
        ps = [ctx.Process(target=noop) for _ in range(n)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()

    return run


def back_to_back(n):
    def run():
        for _ in range(n):
            start_join()

    return run


def cpu_per_start(n):
    """CPU seconds of this process and its reaped children, per start, in ms."""
    before = os.times()
    for _ in range(n):
        start_join()
    after = os.times()
    used = sum(after[i] - before[i] for i in range(4))
    return used / n * 1e3


def ms(result):
    return {k: (v / 1e6 if k != "runs" else [x / 1e6 for x in v]) for k, v in result.items()}


def main():
    single = sample(start_join, 1, runs=21)
    eight = sample(burst(8), 1, runs=9)
    twenty = sample(back_to_back(20), 1, runs=7)
    cpus = [cpu_per_start(40) for _ in range(5)]
    cpus.sort()
    emit(
        {
            "single": ms(single),
            "burst8": ms(eight),
            "seq20": ms(twenty),
            "cpu": {"median": cpus[2], "min": cpus[0], "max": cpus[-1], "runs": cpus},
        }
    )


if __name__ == "__main__":
    main()
