"""Issue #3, metric 3: set -> woken-waiter round trip through two mp.Events; the echo side is a forked
mp.Process that waits for A, clears it and sets B. Microseconds per round trip (two hand-offs)."""
import multiprocessing as mp

from benchutil import RUNS, WARMUP, emit, sample

TRIPS = 3000
TIMEOUT_S = 30


def echo(a, b, count):
    for _ in range(count):
        if not a.wait(TIMEOUT_S):
            raise SystemExit("echo: A not set")
        a.clear()
        b.set()


def main():
    ctx = mp.get_context("fork")
    a, b = ctx.Event(), ctx.Event()
    child = ctx.Process(target=echo, args=(a, b, (RUNS + WARMUP) * TRIPS), daemon=True)
    child.start()

    def trips():
        for _ in range(TRIPS):
            a.set()
            if not b.wait(TIMEOUT_S):
                raise SystemExit("no answer from the echo process")
            b.clear()

    result = sample(trips, TRIPS)
    child.join(TIMEOUT_S)
    if child.exitcode != 0:
        raise SystemExit(f"echo process exit code {child.exitcode}")
    us = {k: (v / 1000 if k != "runs" else [x / 1000 for x in v]) for k, v in result.items()}
    emit({"sync": us})


if __name__ == "__main__":
    main()
