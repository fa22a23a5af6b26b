// The suite must leave /dev/shm as it found it: anything new there afterwards is a leak users would hit.
import { readdirSync } from 'node:fs';

let before: Set<string>;

export function setup(): void {
  before = new Set(readdirSync('/dev/shm'));
}

export function teardown(): void {
  const leaked = readdirSync('/dev/shm').filter((f) => !before.has(f));
  if (leaked.length > 0) throw new Error(`the test suite left ${leaked.length} objects in /dev/shm: ${leaked.join(', ')}`);
}
