// The compiled addon itself, loaded the way posix-mp loads it, for baselines such as a trivial N-API call and
// for measuring pieces of the native paths in isolation.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The posix-mp addon's exports (see lib/internal/native.ts). */
export const addon = createRequire(import.meta.url)('node-gyp-build')(root);
