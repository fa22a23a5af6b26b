"""Issue #10, metric 7: mp.Queue throughput between processes. Forked producers put items; this process gets
# (Named queues.py: a module named queue.py would shadow the standard library queue that mp.Queue imports.)
them. Messages per second (1->1 ints, 1->1 1 KB dicts, 4->1 ints) and ms per 64 MiB bytes message."""
import multiprocessing as mp

from benchutil import emit, sample

INTS = 100_000
OBJECTS = 20_000
BIG = 2
PRODUCERS = 4
RUNS = 5
WARMUP = 1
TIMEOUT_S = 60


def producer(control, data):
    big = bytes([1]) * (64 << 20)
    while True:
        job = control.get(timeout=TIMEOUT_S)
        if job == "stop":
            return
        kind, count = job
        if kind == "int":
            for i in range(count):
                data.put(i)
        elif kind == "kb":
            for i in range(count):
                data.put({"id": i, "name": "item", "payload": "x" * 1000})
        else:
            for _ in range(count):
                data.put(big)


def per_second(ns):
    return {"median": 1e9 / ns["median"], "min": 1e9 / ns["max"], "max": 1e9 / ns["min"], "runs": [1e9 / r for r in ns["runs"]]}


def ms(ns):
    return {k: (v / 1e6 if k != "runs" else [x / 1e6 for x in v]) for k, v in ns.items()}


def main():
    ctx = mp.get_context("fork")
    control, data = ctx.Queue(), ctx.Queue()
    producers = [ctx.Process(target=producer, args=(control, data), daemon=True) for _ in range(PRODUCERS)]
    for p in producers:
        p.start()

    def transfer(kind, count, used):
        def run():
            for _ in range(used):
                control.put((kind, count))
            for _ in range(count * used):
                data.get(timeout=TIMEOUT_S)
        return run

    results = {
        "ints": per_second(sample(transfer("int", INTS, 1), INTS, RUNS, WARMUP)),
        "objects": per_second(sample(transfer("kb", OBJECTS, 1), OBJECTS, RUNS, WARMUP)),
        "fanIn": per_second(sample(transfer("int", INTS // PRODUCERS, PRODUCERS), INTS, RUNS, WARMUP)),
        "big": ms(sample(transfer("big", BIG, 1), BIG, RUNS, WARMUP)),
    }
    for _ in producers:
        control.put("stop")
    for p in producers:
        p.join(TIMEOUT_S)
    emit(results)


if __name__ == "__main__":
    main()
