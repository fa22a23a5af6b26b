/**
 * The guardian program (dist/guardian.js; see guardian.ts): reads registrations from its stdin, a pipe whose
 * write end only the guarded process holds, until EOF — the guarded process has died — then unlinks every
 * file of /dev/shm still registered, and every object whose name starts with a registered prefix (the file
 * NAME, or sem.NAME for a semaphore: glibc's sem_open), and exits.
 *
 * A record is a tag byte, a file name or prefix (UTF-8, no NUL: names never hold one) and a NUL. Tags: 'F'
 * registers a file, 'P' a prefix; 'f' and 'p' undo them. It imports nothing of the package, so it never loads
 * the addon.
 */
import { readdirSync, unlinkSync } from 'node:fs';

const SHM_DIR = '/dev/shm';
/** What glibc puts before a semaphore's name in /dev/shm. */
const SEM = 'sem.';

const files = new Set<string>();
const prefixes = new Set<string>();

function apply(tag: number, name: string): void {
  switch (String.fromCharCode(tag)) {
    case 'F':
      files.add(name);
      break;
    case 'f':
      files.delete(name);
      break;
    case 'P':
      prefixes.add(name);
      break;
    case 'p':
      prefixes.delete(name);
      break;
    default:
      // Nothing else writes to this pipe; a record not understood is skipped.
      break;
  }
}

function unlink(file: string): void {
  try {
    unlinkSync(`${SHM_DIR}/${file}`);
  } catch {
    // Already removed (by shutdown(), or by hand): nothing to do.
  }
}

function cleanUp(): void {
  for (const file of files) unlink(file);
  if (prefixes.size > 0) {
    const all = [...prefixes];
    for (const file of readdirSync(SHM_DIR)) {
      const name = file.startsWith(SEM) ? file.slice(SEM.length) : file;
      if (all.some((prefix) => name.startsWith(prefix))) unlink(file);
    }
  }
}

// The guarded process's death (SIGKILL) may come with a signal to its session or cgroup siblings: this
// process only ever ends at EOF.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, () => {});

let pending: Buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk: Buffer) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  let start = 0;
  for (let end = pending.indexOf(0); end >= 0; end = pending.indexOf(0, start)) {
    apply(pending[start]!, pending.toString('utf8', start + 1, end));
    start = end + 1;
  }
  pending = pending.subarray(start);
});
process.stdin.on('end', () => {
  cleanUp();
  process.exit(0);
});
process.stdin.on('error', () => {
  cleanUp();
  process.exit(1);
});
