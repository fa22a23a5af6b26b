#!/usr/bin/env node
/**
 * `posix-mp`: see and clean the named shared objects in /dev/shm.
 *
 *   posix-mp ls [--json] [PREFIX...]    list objects (only those whose name starts with a PREFIX)
 *   posix-mp rm [--force] NAME...       unlink objects (unidentified ones only with --force)
 *   posix-mp gc [--yes] [PREFIX...]     remove identified objects nobody uses (a dry run without --yes)
 *
 * Unlinking removes a name only: processes that still map the object keep using it.
 */
import { unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { inventory, SHM_DIR, type ShmObject } from './inventory.js';

const USAGE = `usage:
  posix-mp ls [--json] [PREFIX...]   list the objects in ${SHM_DIR} (those whose name starts with a PREFIX)
  posix-mp rm [--force] NAME...      unlink objects by file name as ls shows it (sem.NAME for a semaphore);
                                     one that is not identifiably posix-mp's, Python's or a semaphore only with --force
  posix-mp gc [--yes] [PREFIX...]    remove identified objects that no live process maps or holds open;
                                     without --yes, only say what would be removed

USERS is the processes that map the object or hold a descriptor for it (from /proc/PID/maps and /proc/PID/fd);
"dead" means there is none, "?" that processes of other users could not be inspected (run as root to see all).`;

/** A bad command line: exit status 2. */
class UsageError extends Error {}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  switch (command) {
    case 'ls':
      return list(rest);
    case 'rm':
      return remove(rest);
    case 'gc':
      return collect(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

function list(args: string[]): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  const objects = inventory(positionals);
  if (values.json) {
    console.log(JSON.stringify(objects, null, 2));
    return 0;
  }
  const rows = objects.map((o) => [
    o.file,
    o.kind + (o.origin === 'python' ? ' (Python)' : '') + (o.initialising ? ' (initialising)' : ''),
    String(o.size),
    o.mode,
    o.creatorPid === null ? '-' : String(o.creatorPid),
    usersColumn(o),
    o.note ?? '',
  ]);
  printTable(['NAME', 'KIND', 'SIZE', 'MODE', 'CREATOR', 'USERS', 'NOTE'], rows);
  return 0;
}

function remove(args: string[]): number {
  const { values, positionals } = parse(args, { force: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('rm needs at least one NAME');
  const files = positionals.map((name) => name.replace(/^\/dev\/shm\//, '').replace(/^\//, ''));
  const known = new Map(inventory(files).map((o) => [o.file, o]));
  let status = 0;
  for (const file of files) {
    const object = known.get(file);
    if (!object) {
      console.error(`posix-mp rm: ${file}: no such object in ${SHM_DIR}`);
      status = 1;
    } else if (!object.identified && !values.force) {
      console.error(`posix-mp rm: ${file}: not identifiably posix-mp's (${object.note ?? object.kind}); --force removes it`);
      status = 1;
    } else if (unlink(object, 'rm')) {
      console.log(`removed ${file} (${object.kind})`);
    } else {
      status = 1;
    }
  }
  return status;
}

function collect(args: string[]): number {
  const { values, positionals } = parse(args, { yes: { type: 'boolean' } });
  const objects = inventory(positionals);
  const dead = objects.filter((o) => o.identified && o.alive === false);
  const unknown = objects.filter((o) => o.identified && o.alive === null);
  let status = 0;
  for (const object of dead) {
    const what = `${object.file} (${object.kind}${object.creatorPid === null ? '' : `, created by ${object.creatorPid}`})`;
    if (!values.yes) console.log(`would remove ${what}`);
    else if (unlink(object, 'gc')) console.log(`removed ${what}`);
    else status = 1;
  }
  for (const object of unknown) console.log(`kept ${object.file}: processes of other users could not be inspected`);
  const skipped = objects.filter((o) => !o.identified).length;
  if (skipped > 0) console.log(`left ${skipped} unidentified object${skipped === 1 ? '' : 's'} alone (see posix-mp ls)`);
  if (!values.yes && dead.length > 0) console.log('dry run: posix-mp gc --yes removes them');
  if (dead.length === 0) console.log('nothing to remove');
  return status;
}

function unlink(object: ShmObject, command: string): boolean {
  try {
    unlinkSync(`${SHM_DIR}/${object.file}`);
    return true;
  } catch (error) {
    console.error(`posix-mp ${command}: ${object.file}: ${(error as Error).message}`);
    return false;
  }
}

function usersColumn(object: ShmObject): string {
  if (object.users.length > 0) return object.users.join(',');
  return object.alive === null ? '?' : 'dead';
}

function parse<T extends Record<string, { type: 'boolean' }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`posix-mp: ${error.message}\n\n${USAGE}`);
  process.exitCode = 2;
}
