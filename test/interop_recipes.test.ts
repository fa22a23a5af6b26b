// Every recipe of docs/interop.md, run as written: the code blocks marked `file=NAME` are extracted, their
// `demo.` object names replaced by unique ones, and run (Node blocks with node, C blocks compiled with the
// page's own compiler command, Python blocks with python3); then the shared objects are checked from here.
// The Listener/Client recipes run a listener and a client at once, Node against Python both ways.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Lock, Semaphore, SharedMemory, Value } from 'posix-mp';
import { uniqueName, until } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
const page = readFileSync(path.join(root, 'docs/interop.md'), 'utf8');

/** The page's code blocks by their `file=` name. */
const blocks = new Map([...page.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)].map((m) => [m[1]!, m[2]!]));

let dir: string;
/** The unique name prefix of the current test (set first thing in each test). */
let prefix: string;
/** Named objects a recipe made, unlinked after each test. */
const cleanup: (() => void)[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pmp-recipes-'));
  // As in a project that installed the package: imports of 'posix-mp' and the header path resolve.
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(root, path.join(dir, 'node_modules/posix-mp'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const undo of cleanup.splice(0)) {
    try {
      undo();
    } catch {
      // not created: the test failed before
    }
  }
});

/** Writes block `file` with this test's names into the work folder; returns its path. */
function extract(file: string): string {
  const code = blocks.get(file);
  if (code === undefined) throw new Error(`docs/interop.md has no block file=${file}`);
  writeFileSync(path.join(dir, file), code.replaceAll('demo.', `${prefix}.`));
  return path.join(dir, file);
}

async function run(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(file, args, { cwd: dir });
  return stdout;
}

/** Compiles a C block with the page's own command line (build.sh, which builds counter.c). */
async function compile(file: string): Promise<string> {
  extract(file);
  const command = blocks.get('build.sh')!.trim().replaceAll('counter', path.basename(file, '.c'));
  await exec('sh', ['-c', command], { cwd: dir });
  return path.join(dir, path.basename(file, '.c'));
}

describe('docs/interop.md', () => {
  it('has the blocks this test runs', () => {
    expect([...blocks.keys()].sort()).toEqual(
      [
        'build.sh',
        'c-sem.mjs',
        'c-value.mjs',
        'client.py',
        'counter.c',
        'listener.py',
        'post.c',
        'py-client.mjs',
        'py-listener.mjs',
        'py-sem.mjs',
        'py-shm.mjs',
        'sem.py',
        'shm.py',
      ].sort(),
    );
  });

  it('C: a Value under a named Lock', async () => {
    prefix = uniqueName('recipe');
    cleanup.push(() => Lock.open(`${prefix}.lock`).unlink(), () => Value.open(`${prefix}.counter`).unlink());
    await run(process.execPath, extract('c-value.mjs'));
    const program = await compile('counter.c');
    expect((await run(program)).trim()).toBe('1100');
    using counter = Value.open(`${prefix}.counter`, { lock: false });
    expect(counter.value).toBe(1100n);
  });

  it('C: a Semaphore and SharedMemory', async () => {
    prefix = uniqueName('recipe');
    cleanup.push(() => Semaphore.unlink(`${prefix}.sem`), () => SharedMemory.open(`${prefix}.shm`).unlink());
    await run(process.execPath, extract('c-sem.mjs'));
    await run(await compile('post.c'));
    using sem = Semaphore.open(`${prefix}.sem`);
    expect(await sem.acquire({ timeout: 0 })).toBe(true);
    using shm = SharedMemory.open(`${prefix}.shm`);
    expect(shm.buf.subarray(0, 12).toString()).toBe('hello from C');
  });

  it('Python: SharedMemory outlives the Python program that opened it', async () => {
    prefix = uniqueName('recipe');
    cleanup.push(() => SharedMemory.open(`${prefix}.shm`).unlink());
    await run(process.execPath, extract('py-shm.mjs'));
    const { stdout, stderr } = await exec('python3', [extract('shm.py')], { cwd: dir });
    expect(stdout.trim()).toBe('hello from Node');
    // No resource-tracker warning about leaked objects, and the block is still there.
    expect(stderr).toBe('');
    using shm = SharedMemory.open(`${prefix}.shm`);
    expect(shm.buf.subarray(32, 49).toString()).toBe('hello from Python');
  });

  it('Python: a named semaphore through ctypes', async () => {
    prefix = uniqueName('recipe');
    cleanup.push(() => Semaphore.unlink(`${prefix}.sem`));
    await run(process.execPath, extract('py-sem.mjs'));
    expect((await run('python3', extract('sem.py'))).trim()).toBe('2');
    using sem = Semaphore.open(`${prefix}.sem`);
    expect(sem.getValue()).toBe(2);
  });

  /** Runs `listener` (its socket is the block's `demo.sock`), then `client` once the socket is there. */
  async function converse(listener: string[], client: string[]): Promise<{ client: string; listener: string }> {
    const socket = path.join(dir, `${prefix}.sock`);
    const listening = exec(listener[0]!, listener.slice(1), { cwd: dir, timeout: 60_000 });
    // A listener that fails before it listens shows its own error (from Promise.all below), not a timeout.
    let ended = false;
    listening.then(
      () => (ended = true),
      () => (ended = true),
    );
    await until(() => existsSync(socket) || ended, `${socket} exists`, { timeout: 30_000 });
    const [talked, listened] = await Promise.all([exec(client[0]!, client.slice(1), { cwd: dir, timeout: 60_000 }), listening]);
    return { client: talked.stdout, listener: listened.stdout };
  }

  it('Python: a Python Client talks to a Node Listener (send_bytes/recv_bytes, authkey)', async () => {
    prefix = uniqueName('recipe');
    const { client } = await converse([process.execPath, extract('py-listener.mjs')], ['python3', extract('client.py')]);
    expect(client.trim()).toBe("{'sum': 6}");
    // listener.close() removed the socket.
    expect(existsSync(path.join(dir, `${prefix}.sock`))).toBe(false);
  });

  it('Python: a Node Client talks to a Python Listener (send_bytes/recv_bytes, authkey)', async () => {
    prefix = uniqueName('recipe');
    const { client } = await converse(['python3', extract('listener.py')], [process.execPath, extract('py-client.mjs')]);
    expect(client.trim()).toBe("{ upper: 'HELLO FROM NODE' }");
  });
});
