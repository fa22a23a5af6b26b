"""Issue #2, metric 3: sum() over a multiprocessing.Array('d', 1_000_000), with the default lock and with
lock=False. Milliseconds per sum."""
import multiprocessing as mp

from benchutil import emit, sample

COUNT = 1_000_000


def ms(result):
    return {k: (v / 1e6 if k != "runs" else [x / 1e6 for x in v]) for k, v in result.items()}


def timed_sum(arr, runs, warmup):
    expected = 0.5 * (COUNT - 1) * COUNT / 2
    total = 0.0

    def one():
        nonlocal total
        total = sum(arr)

    result = sample(one, 1, runs=runs, warmup=warmup)
    if total != expected:
        raise SystemExit(f"sum is {total}, expected {expected}")
    return ms(result)


def main():
    ctx = mp.get_context("fork")
    values = [i * 0.5 for i in range(COUNT)]
    locked = ctx.Array("d", values)
    unlocked = ctx.Array("d", values, lock=False)
    emit({"locked": timed_sum(locked, runs=5, warmup=1), "unlocked": timed_sum(unlocked, runs=7, warmup=2)})


if __name__ == "__main__":
    main()
