"""Issue #10, Pipe rows: a 64-byte round trip through mp.Pipe() with a forked echo mp.Process (send_bytes/
recv_bytes, and send/recv of a bytes object), in microseconds; and a 64 MiB message to the child, answered by
a 2-byte acknowledgement, in milliseconds."""
import multiprocessing as mp

from benchutil import emit, sample

TRIPS = 3000
SMALL = b"x" * 64
LARGE = 1024
BIG = 64 * 1024 * 1024
BIG_RUNS = 5


def echo_bytes(conn):
    try:
        while True:
            message = conn.recv_bytes()
            conn.send_bytes(b"ok" if len(message) > LARGE else message)
    except EOFError:
        pass


def echo_objects(conn):
    try:
        while True:
            message = conn.recv()
            conn.send("ok" if len(message) > LARGE else message)
    except EOFError:
        pass


def measure(target, send, recv):
    ctx = mp.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=target, args=(theirs,), daemon=True)
    child.start()
    theirs.close()

    def trips():
        for _ in range(TRIPS):
            send(mine, SMALL)
            recv(mine)

    small = sample(trips, TRIPS)
    big = bytes(BIG)

    def one_big():
        send(mine, big)
        recv(mine)

    large = sample(one_big, 1, runs=BIG_RUNS, warmup=1)
    mine.close()
    child.join(30)
    return (
        {k: (v / 1e3 if k != "runs" else [x / 1e3 for x in v]) for k, v in small.items()},
        {k: (v / 1e6 if k != "runs" else [x / 1e6 for x in v]) for k, v in large.items()},
    )


def main():
    small_bytes, big_bytes = measure(echo_bytes, lambda c, m: c.send_bytes(m), lambda c: c.recv_bytes())
    small_objects, big_objects = measure(echo_objects, lambda c, m: c.send(m), lambda c: c.recv())
    emit({"smallBytes": small_bytes, "smallObjects": small_objects, "bigBytes": big_bytes, "bigObjects": big_objects})


if __name__ == "__main__":
    main()
