"""Issue #2, metric 2: cross-process round trip through two mp.Semaphores; the echo side is a forked
mp.Process. Microseconds per round trip."""
import multiprocessing as mp

from benchutil import RUNS, WARMUP, emit, sample

TRIPS = 3000
TIMEOUT_S = 30


def echo(ping, pong, count):
    for _ in range(count):
        if not ping.acquire(timeout=TIMEOUT_S):
            raise SystemExit("echo: no ping")
        pong.release()


def main():
    ctx = mp.get_context("fork")
    ping, pong = ctx.Semaphore(0), ctx.Semaphore(0)
    child = ctx.Process(target=echo, args=(ping, pong, (RUNS + WARMUP) * TRIPS), daemon=True)
    child.start()

    def trips():
        for _ in range(TRIPS):
            ping.release()
            if not pong.acquire(timeout=TIMEOUT_S):
                raise SystemExit("no answer from the echo process")

    result = sample(trips, TRIPS)
    child.join(TIMEOUT_S)
    us = {k: (v / 1000 if k != "runs" else [x / 1000 for x in v]) for k, v in result.items()}
    emit({"sync": us})


if __name__ == "__main__":
    main()
