"""A Python peer that uses posix-mp objects through the standard library only: the shared memory with
multiprocessing.shared_memory.SharedMemory(name), the semaphores with libc's sem_open/sem_wait/sem_post over
ctypes (Python's own multiprocessing semaphores are unnamed to the outside world).

  sem_shm_peer.py counter SHM SEM GATE N   prints {"name", "size"} of the SharedMemory as Python sees it,
                                           waits for a token of GATE, then N times: sem_wait(SEM), increments
                                           the uint64 at offset 0 (plain read-modify-write), sem_post(SEM).
  sem_shm_peer.py create SHM SIZE          creates SHM with SharedMemory(SHM, create=True, size=SIZE), fills
                                           it with bytes i % 251 and leaves it for the caller to open/unlink.
"""
import ctypes
import errno
import json
import struct
import sys
from multiprocessing import resource_tracker, shared_memory

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.sem_open.restype = ctypes.c_void_p
libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
for fn in (libc.sem_wait, libc.sem_post, libc.sem_close):
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p]


def open_sem(name):
    sem = libc.sem_open(("/" + name).encode(), 0)
    if not sem:  # SEM_FAILED is a null pointer in glibc
        err = ctypes.get_errno()
        raise OSError(err, "sem_open /" + name)
    return sem


def wait_sem(sem):
    while libc.sem_wait(sem) != 0:
        if ctypes.get_errno() != errno.EINTR:
            raise OSError(ctypes.get_errno(), "sem_wait")


def open_shm(name):
    shm = shared_memory.SharedMemory(name)
    # Python 3.8-3.12 registers even an opened (not created) block with the resource tracker, which would
    # unlink it when this process exits; the block belongs to the test.
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def counter(shm_name, sem_name, gate_name, n):
    shm = open_shm(shm_name)
    print(json.dumps({"name": shm.name, "size": shm.size}), flush=True)
    mutex = open_sem(sem_name)
    gate = open_sem(gate_name)
    wait_sem(gate)
    buf = shm.buf
    for _ in range(n):
        wait_sem(mutex)
        (value,) = struct.unpack_from("=Q", buf, 0)
        struct.pack_into("=Q", buf, 0, value + 1)
        if libc.sem_post(mutex) != 0:
            raise OSError(ctypes.get_errno(), "sem_post")
    del buf
    libc.sem_close(gate)
    libc.sem_close(mutex)
    shm.close()


def create(shm_name, size):
    shm = shared_memory.SharedMemory(shm_name, create=True, size=size)
    resource_tracker.unregister(shm._name, "shared_memory")
    shm.buf[:size] = bytes(i % 251 for i in range(size))
    print(json.dumps({"name": shm.name, "size": shm.size}), flush=True)
    shm.close()


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "counter":
        counter(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif command == "create":
        create(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: sem_shm_peer.py counter SHM SEM GATE N | create SHM SIZE")
