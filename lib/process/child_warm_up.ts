/**
 * The module of the job that a prepared interpreter, and the fork server, rehearse before any real job comes
 * (see child.ts). Imported dynamically, by the package's name as users do: the first module that the loader
 * imports dynamically and that imports a package by name costs ~1.5 ms more than the next ones. Running a
 * whole job through the bootstrap while idle leaves only the user's own module to load and run when the real
 * job arrives: every function on that path is compiled then, and a child of the fork server inherits it so.
 */
import { Process, type Connection, type Event, type Lock, type Semaphore, type Value } from 'posix-mp';

/** What a rehearsal job carries: one object of each kind that Process arguments most often hold. */
export interface RehearsalObjects {
  value: Value<bigint>;
  lock: Lock;
  semaphore: Semaphore;
  event: Event;
  connection: Connection;
}

/** The rehearsal's target: uses each object once, without waiting, and closes it. */
export function rehearse(objects: RehearsalObjects): void {
  const { value, lock, semaphore, event, connection } = objects;
  value.value += 1n;
  if (lock.acquireSync({ timeout: 0 })) lock.release();
  semaphore.release();
  semaphore.acquireSync({ timeout: 0 });
  event.set();
  event.isSet();
  for (const object of [value, lock, semaphore, event, connection]) object.close();
}

/** A Process subclass: the rehearsal also builds a child's own Process object and runs its `run()`. */
export class Rehearsal extends Process {}
