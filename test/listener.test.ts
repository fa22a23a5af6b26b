// Listener and Client (multiprocessing.connection): Node with Node, and Node with a real Python peer
// (peers/connection_peer.py, standard library only) both ways, over AF_UNIX and TCP, with Python's authkey
// challenge — the Python 3.11 generation (HMAC-MD5) and, when a Python >= 3.12 is installed, the {sha256} one.
// A wrong key is refused on both sides; without a key only the same user may connect, and TCP needs a key.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { AuthenticationError, Client, Listener, Value } from 'posix-mp';
import { killAll, waitForLine, within } from './helpers.js';

const peer = fileURLToPath(new URL('./peers/connection_peer.py', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'pmp-listener-'));
const LONG = 60_000;
const key = Buffer.from('secret key');
let sockets = 0;
const socketPath = (): string => path.join(dir, `s${sockets++}`);
const children: ChildProcess[] = [];

/** Pythons to test against: the default python3 and, if installed, one speaking the >= 3.12 protocol. */
function pythons(): string[] {
  const found = ['python3'];
  for (const candidate of ['python3.13', 'python3.12', path.join(homedir(), '.pyenv/versions/3.12.1/bin/python3')]) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print(sys.version_info >= (3, 12))'], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() === 'True') {
      found.push(candidate);
      break;
    }
  }
  return found;
}

function runPeer(python: string, args: string[]): ChildProcess {
  const child = spawn(python, [peer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

afterAll(() => {
  killAll(children);
  rmSync(dir, { recursive: true, force: true });
});

describe('Node with Node', () => {
  it('AF_UNIX with an authkey: both sides authenticate, messages go both ways, close removes the path', async () => {
    const where = socketPath();
    const listener = new Listener(where, { authkey: key });
    try {
      const [server, client] = await Promise.all([listener.accept({ timeout: LONG }), Client(where, { authkey: key })]);
      client.send({ hello: 'node' });
      expect(await server.recv()).toEqual({ hello: 'node' });
      server.sendBytes(Buffer.from('bytes'));
      expect((await client.recvBytes()).toString()).toBe('bytes');
      server.close();
      client.close();
    } finally {
      listener.close();
    }
    expect(() => new Listener(where).close()).not.toThrow();
  });

  it('a wrong key is refused on both sides with AuthenticationError (ERR_MP_AUTHENTICATION)', async () => {
    const where = socketPath();
    const listener = new Listener(where, { authkey: key });
    try {
      const [accepted, connected] = await Promise.allSettled([
        listener.accept({ timeout: LONG }),
        Client(where, { authkey: Buffer.from('wrong') }),
      ]);
      for (const result of [accepted, connected]) {
        expect(result.status).toBe('rejected');
        const error = (result as PromiseRejectedResult).reason as Error;
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error).toMatchObject({ code: 'ERR_MP_AUTHENTICATION' });
      }
    } finally {
      listener.close();
    }
  });

  it('AF_UNIX without a key: a process of the same user is accepted (checked with SO_PEERCRED)', async () => {
    const where = socketPath();
    const listener = new Listener(where);
    try {
      const [server, client] = await Promise.all([listener.accept({ timeout: LONG }), Client(where)]);
      server.send(1);
      expect(client.recvSync()).toBe(1);
      server.close();
      client.close();
    } finally {
      listener.close();
    }
  });

  it('TCP requires an authkey (a clear error before any socket); with one it works, port 0 picks a port', async () => {
    expect(() => new Listener({ host: '127.0.0.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('authkey') }),
    );
    await expect(Client({ host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    const listener = new Listener({ host: 'localhost', port: 0 }, { authkey: key });
    try {
      const { port } = listener.address as { port: number };
      expect(port).toBeGreaterThan(0);
      const [server, client] = await Promise.all([
        listener.accept({ timeout: LONG }),
        Client({ host: 'localhost', port }, { authkey: key }),
      ]);
      client.sendBytes(Buffer.from('over tcp'));
      expect(server.recvBytesSync().toString()).toBe('over tcp');
      server.close();
      client.close();
    } finally {
      listener.close();
    }
  });

  it('accept: an abort or timeout leaves no waiter (the next accept gets the connection); close rejects pending ones', async () => {
    const where = socketPath();
    const listener = new Listener(where, { authkey: key });
    const controller = new AbortController();
    const aborted = listener.accept({ signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toBe(controller.signal.reason);
    await expect(listener.accept({ timeout: 10 })).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
    expect(() => listener.acceptSync({ timeout: 0 })).toThrow(expect.objectContaining({ code: 'ERR_MP_TIMEOUT' }));
    const [server, client] = await Promise.all([listener.accept({ timeout: LONG }), Client(where, { authkey: key })]);
    server.close();
    client.close();
    const pending = listener.accept();
    listener.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    await expect(Client(where, { authkey: key })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe.each(pythons())('Node with a Python peer (%s)', (python) => {
  it("Python's Client connects to a Node Listener (AF_UNIX, authkey): send_bytes/recv_bytes both ways", async () => {
    const where = socketPath();
    const listener = new Listener(where, { authkey: key });
    const child = runPeer(python, ['client', where, key.toString()]);
    const done = within(child, LONG, 'python client');
    try {
      const conn = await listener.accept({ timeout: LONG });
      conn.sendBytes(Buffer.from('hello'));
      expect((await conn.recvBytes({ timeout: LONG })).toString()).toBe('py:hello');
      const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
      conn.sendBytes(big);
      const back = await conn.recvBytes({ timeout: LONG });
      expect(back.length).toBe(big.length + 3);
      conn.sendBytes(Buffer.from('bye'));
      conn.close();
      expect((await done).code).toBe(0);
    } finally {
      listener.close();
    }
  });

  it("a Node Client connects to Python's Listener (TCP, authkey)", async () => {
    const child = runPeer(python, ['listener', '127.0.0.1:0', key.toString()]);
    const port = Number((await waitForLine(child, /^ready \d+/)).split(' ')[1]);
    const done = within(child, LONG, 'python listener');
    const conn = await Client({ host: '127.0.0.1', port }, { authkey: key, timeout: LONG });
    conn.sendBytes(Buffer.from('from node'));
    expect((await conn.recvBytes({ timeout: LONG })).toString()).toBe('py:from node');
    conn.close();
    expect((await done).code).toBe(0);
  });

  it('a wrong key is refused on both sides (Python raises AuthenticationError, Node rejects)', async () => {
    // Python's Listener, Node's Client with another key.
    const child = runPeer(python, ['listener', '127.0.0.1:0', 'another key']);
    const port = Number((await waitForLine(child, /^ready \d+/)).split(' ')[1]);
    const done = within(child, LONG, 'python listener');
    await expect(Client({ host: '127.0.0.1', port }, { authkey: key, timeout: LONG })).rejects.toMatchObject({
      code: 'ERR_MP_AUTHENTICATION',
    });
    const result = await done;
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('auth-failed');

    // Node's Listener, Python's Client with another key.
    const where = socketPath();
    const listener = new Listener(where, { authkey: key });
    const client = runPeer(python, ['client', where, 'another key']);
    const clientDone = within(client, LONG, 'python client');
    try {
      await expect(listener.accept({ timeout: LONG })).rejects.toBeInstanceOf(AuthenticationError);
      const clientResult = await clientDone;
      expect(clientResult.code).toBe(3);
    } finally {
      listener.close();
    }
  });

  it("Python's Client without a key is accepted on AF_UNIX by a keyless Node Listener (same user)", async () => {
    const where = socketPath();
    const listener = new Listener(where);
    const child = runPeer(python, ['client', where, '-']);
    const done = within(child, LONG, 'python client');
    try {
      const conn = await listener.accept({ timeout: LONG });
      conn.sendBytes(Buffer.from('x'));
      expect((await conn.recvBytes({ timeout: LONG })).toString()).toBe('py:x');
      conn.sendBytes(Buffer.from('bye'));
      conn.close();
      expect((await done).code).toBe(0);
    } finally {
      listener.close();
    }
  });
});

describe('what travels over TCP', () => {
  it('large objects go inline; anonymous shared objects are refused with a clear error (no descriptors over TCP)', async () => {
    const listener = new Listener({ host: '127.0.0.1', port: 0 }, { authkey: key });
    try {
      const { port } = listener.address as { port: number };
      const [server, client] = await Promise.all([
        listener.accept({ timeout: LONG }),
        Client({ host: '127.0.0.1', port }, { authkey: key }),
      ]);
      const big = { data: new Uint8Array(1024 * 1024).fill(3) };
      client.send(big);
      expect(await server.recv({ timeout: LONG })).toEqual(big);
      const value = new Value('i', 1);
      expect(() => client.send({ value })).toThrow(expect.objectContaining({ code: 'ERR_MP_TRANSFER' }));
      value.close();
      server.close();
      client.close();
    } finally {
      listener.close();
    }
  });
});
