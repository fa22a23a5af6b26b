"""Issue #4: Process start -> join for a trivial target, with the fork and the spawn start methods.
Milliseconds per start+join."""
import multiprocessing as mp

from benchutil import emit, sample

FORK_RUNS = 21
SPAWN_RUNS = 7


def noop():
    pass


def start_join(ctx):
    def once():
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"child exit code {p.exitcode}")

    return once


def ms(result):
    return {k: (v / 1e6 if k != "runs" else [x / 1e6 for x in v]) for k, v in result.items()}


def main():
    fork = sample(start_join(mp.get_context("fork")), 1, runs=FORK_RUNS)
    spawn = sample(start_join(mp.get_context("spawn")), 1, runs=SPAWN_RUNS)
    emit({"fork": ms(fork), "spawn": ms(spawn)})


if __name__ == "__main__":
    main()
