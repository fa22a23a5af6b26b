/**
 * What is in /dev/shm, object by object: what it is (from its pmp_header, or from its name where the object
 * has no header), its size, mode and owner, who created it, and whether anyone still uses it.
 *
 * Recognised: posix-mp's Lock, RLock, Event, Condition, Barrier, Value, Array and Queue by their header (any
 * program that writes the header, C peers included, is recognised the same way); POSIX named semaphores
 * (`sem.NAME`: posix-mp's Semaphore, a C program's sem_open, Python's `_multiprocessing.SemLock` as
 * `sem.mp-*`); Python's default SharedMemory names (`psm_*`). Plain shared memory with any other name is a
 * posix-mp SharedMemory or another program's object: nothing tells them apart, so it is `unidentified`.
 */
import { readdirSync, statSync } from 'node:fs';

import { readHeader } from './header.js';
import { scanUsers, type HiddenProcess } from './users.js';

/** Where POSIX shared memory and named semaphores live on Linux. */
export const SHM_DIR = '/dev/shm';

/** Who made an object, as far as can be told. */
export type Origin = 'posix-mp' | 'semaphore' | 'python' | 'unidentified';

/** One object of /dev/shm. */
export interface ShmObject {
  /** The file in /dev/shm (`sem.NAME` for a semaphore): what `rm` takes. */
  file: string;
  /** The name programs open it by (`NAME` for `sem.NAME`). */
  name: string;
  /** Lock, RLock, Event, Condition, Barrier, Value, Array, Queue, Semaphore, SharedMemory, or `unknown`. */
  kind: string;
  origin: Origin;
  /** Whether `rm` (without --force) and `gc` may remove it. */
  identified: boolean;
  /** Bytes. */
  size: number;
  /** Permission bits, e.g. `0600`. */
  mode: string;
  uid: number;
  /** From the pmp_header; null without one. */
  creatorPid: number | null;
  /** A pmp_header object whose creator has not finished initialising it (or died doing so). */
  initialising: boolean;
  /** The processes that map it or hold a descriptor for it. */
  users: number[];
  /** true: some process uses it; false: none does; null: cannot tell (processes this user may not inspect). */
  alive: boolean | null;
  /** Why the kind is what it is, when that needs saying. */
  note?: string;
}

/**
 * Every object in /dev/shm whose file name, or name (a semaphore's without `sem.`), starts with one of
 * `prefixes` (all when empty).
 */
export function inventory(prefixes: readonly string[] = []): ShmObject[] {
  const matches = (file: string): boolean =>
    prefixes.some((prefix) => file.startsWith(prefix) || (file.startsWith('sem.') && file.startsWith(prefix, 4)));
  const files = readdirSync(SHM_DIR)
    .filter((file) => prefixes.length === 0 || matches(file))
    .sort();
  const { users, hidden } = scanUsers();
  const objects: ShmObject[] = [];
  for (const file of files) {
    const object = describeFile(file, users, hidden);
    if (object) objects.push(object);
  }
  return objects;
}

function describeFile(file: string, inUse: ReadonlyMap<number, number[]>, hidden: HiddenProcess[]): ShmObject | undefined {
  const path = `${SHM_DIR}/${file}`;
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined; // removed meanwhile
  }
  if (!stat.isFile()) return undefined;
  const users = inUse.get(stat.ino) ?? [];
  const object: ShmObject = {
    file,
    name: file,
    kind: 'unknown',
    origin: 'unidentified',
    identified: false,
    size: stat.size,
    mode: `0${(stat.mode & 0o777).toString(8).padStart(3, '0')}`,
    uid: stat.uid,
    creatorPid: null,
    initialising: false,
    users,
    alive: users.length > 0 ? true : hidden.some((p) => mayOpen(p, stat)) ? null : false,
  };
  if (file.startsWith('sem.')) {
    // glibc's sem_open: /dev/shm/sem.NAME, created as a temporary file and then linked to its name.
    return { ...object, name: file.slice(4), kind: 'Semaphore', identified: true, ...semaphoreOrigin(file) };
  }
  let header;
  try {
    header = readHeader(path);
  } catch (error) {
    return { ...object, note: `cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  if (header) {
    return {
      ...object,
      kind: header.kind,
      origin: 'posix-mp',
      identified: true,
      creatorPid: header.creatorPid,
      initialising: !header.ready,
      ...(header.version === 1 ? {} : { note: `pmp_header version ${header.version}` }),
    };
  }
  if (/^psm_[0-9a-f]{8}$/.test(file)) return { ...object, kind: 'SharedMemory', origin: 'python', identified: true };
  return { ...object, note: 'no posix-mp header: a SharedMemory, or another program\'s memory' };
}

function semaphoreOrigin(file: string): { origin: Origin } {
  // _multiprocessing.SemLock names its semaphores "/mp-" and 8 random characters.
  return { origin: /^sem\.mp-[a-z0-9_]{8}$/.test(file) ? 'python' : 'semaphore' };
}

/**
 * Whether an uninspected process could have opened the file: its mode grants that process's uid or gid
 * access. Root's processes are not counted: every object would otherwise be "cannot tell" for any other user.
 */
function mayOpen(process: HiddenProcess, stat: { uid: number; gid: number; mode: number }): boolean {
  if (process.uid === 0) return false;
  if (process.uid === stat.uid) return (stat.mode & 0o600) !== 0;
  if (process.gid === stat.gid) return (stat.mode & 0o060) !== 0;
  return (stat.mode & 0o006) !== 0;
}
