// The suite must leave /dev/shm as it found it: anything a test run leaves there is a leak users would hit.
// Every name a test creates carries this run's id (see uniqueName in helpers.ts), so concurrent runs of
// the suite on the same machine do not blame each other.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';

const run = randomBytes(4).toString('hex');

export function setup(): void {
  process.env.PMP_TEST_RUN = run;
}

export function teardown(): void {
  const leaked = readdirSync('/dev/shm').filter((f) => f.includes(`pmp-test-${run}-`));
  if (leaked.length > 0) throw new Error(`the test suite left ${leaked.length} objects in /dev/shm: ${leaked.join(', ')}`);
}
