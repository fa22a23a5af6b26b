// The suite must leave /dev/shm as it found it: anything a test run leaves there is a leak users would hit.
// Every name a test creates carries this run's id (see uniqueName in helpers.ts), so concurrent runs of
// the suite on the same machine do not blame each other.
// Tests import the built package (dist/), so a dist/ older than lib/ would test yesterday's code: refuse to run.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const run = randomBytes(4).toString('hex');
const root = fileURLToPath(new URL('..', import.meta.url));

/** Throws unless dist/index.js exists and is newer than every file under lib/. */
function assertBuilt(): void {
  const built = path.join(root, 'dist/index.js');
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    throw new Error(`${built} does not exist: run npm run build:ts before the tests`);
  }
  const lib = path.join(root, 'lib');
  const newer = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((file) => statSync(path.join(lib, file)).mtimeMs > builtAt);
  if (newer.length > 0) {
    throw new Error(`dist/ is older than lib/ (${newer.slice(0, 3).map((file) => `lib/${file}`).join(', ')}${newer.length > 3 ? ', ...' : ''}): run npm run build:ts before the tests`);
  }
}

export function setup(): void {
  assertBuilt();
  process.env.PMP_TEST_RUN = run;
}

export function teardown(): void {
  const leaked = readdirSync('/dev/shm').filter((f) => f.includes(`pmp-test-${run}-`));
  if (leaked.length > 0) throw new Error(`the test suite left ${leaked.length} objects in /dev/shm: ${leaked.join(', ')}`);
}
