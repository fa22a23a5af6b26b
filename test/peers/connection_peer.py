"""A Python peer for test/listener.test.ts, using only multiprocessing.connection.

    connection_peer.py client ADDRESS AUTHKEY   connect to a Node Listener
    connection_peer.py listener ADDRESS AUTHKEY listen (prints "ready <port>"), accept one Node Client

ADDRESS is a Unix socket path or HOST:PORT; AUTHKEY '-' means none. Once connected, the peer answers every
byte message with b'py:' + the message (recv_bytes/send_bytes), until it receives b'bye' or EOF. A failed
authentication prints "auth-failed" and exits with status 3.
"""
import sys
from multiprocessing.connection import AuthenticationError, Client, Listener


def parse(address):
    if ':' in address and not address.startswith('/'):
        host, port = address.rsplit(':', 1)
        return (host, int(port))
    return address


def serve(conn):
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            break
        if message == b'bye':
            break
        conn.send_bytes(b'py:' + message)
    conn.close()


def main():
    role, address, key = sys.argv[1], parse(sys.argv[2]), sys.argv[3]
    authkey = None if key == '-' else key.encode()
    try:
        if role == 'client':
            conn = Client(address, authkey=authkey)
        else:
            with Listener(address, authkey=authkey) as listener:
                port = listener.address[1] if isinstance(listener.address, tuple) else 0
                print('ready', port, flush=True)
                conn = listener.accept()
    except AuthenticationError:
        print('auth-failed', flush=True)
        sys.exit(3)
    print('connected', flush=True)
    serve(conn)


main()
