"""Issue #2, metric 1: multiprocessing.Semaphore acquire() + release(), uncontended."""
import multiprocessing as mp

from benchutil import emit, sample

OPS = 200_000


def main():
    sem = mp.get_context("fork").Semaphore(1)

    def pairs():
        for _ in range(OPS):
            sem.acquire()
            sem.release()

    emit({"pair": sample(pairs, OPS)})


if __name__ == "__main__":
    main()
