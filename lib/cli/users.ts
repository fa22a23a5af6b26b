/**
 * Who uses a /dev/shm object: every process that maps it (/proc/PID/maps lists each mapping's file and inode)
 * or holds a descriptor for it (/proc/PID/fd/*). Objects are matched by inode, not by path: glibc's sem_open
 * creates a semaphore as a temporary file, maps it and only then links it to sem.NAME, so its creator's
 * mapping names the (deleted) temporary file. Reading another user's maps or fds needs that user's or root's
 * rights; such processes are remembered as uninspected, with their uid and gid, so a caller can tell "no
 * user" from "cannot know".
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** A process whose maps or descriptors could not be read. */
export interface HiddenProcess {
  pid: number;
  uid: number;
  gid: number;
}

/** The inodes of the /dev/shm files in use, with the pids using each, and the processes not inspected. */
export interface ShmUsers {
  users: Map<number, number[]>;
  hidden: HiddenProcess[];
}

const SHM_DIR = '/dev/shm/';

/** Scans /proc once; `self` (this process) is left out. */
export function scanUsers(self = process.pid): ShmUsers {
  const users = new Map<number, number[]>();
  const hidden: HiddenProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === self) continue;
    const inodes = new Set<number>();
    try {
      for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        // address perms offset dev inode path
        const fields = line.split(/ +/, 6);
        if (fields[5]?.startsWith(SHM_DIR)) inodes.add(Number(fields[4]));
      }
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(SHM_DIR)) inodes.add(statSync(`/proc/${pid}/fd/${fd}`).ino);
        } catch {
          continue; // closed meanwhile
        }
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') continue; // exited meanwhile
      const ids = credentials(pid);
      if (ids) hidden.push({ pid, ...ids });
      continue;
    }
    for (const inode of inodes) {
      const pids = users.get(inode);
      if (pids) pids.push(pid);
      else users.set(inode, [pid]);
    }
  }
  return { users, hidden };
}

/** A process's effective uid and gid (/proc/PID/status is readable by everyone). */
function credentials(pid: number): { uid: number; gid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+\\d+\\s+(\\d+)`, 'm').exec(status)?.[1] ?? -1);
    return { uid: field('Uid'), gid: field('Gid') };
  } catch {
    return undefined;
  }
}
