#!/usr/bin/env node
// Fails when the native sources listed in binding.gyp (install build) and CMakeLists.txt (developer build)
// differ from each other or from the .cc files in native/.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gyp = JSON.parse(readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
const fromGyp = new Set(gyp.targets.flatMap((t) => t.sources ?? []));
const cmake = readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
const block = /set\(POSIX_MP_SOURCES([^)]*)\)/.exec(cmake);
if (!block) throw new Error('CMakeLists.txt: no set(POSIX_MP_SOURCES ...) block');
const fromCmake = new Set(block[1].split(/\s+/).filter(Boolean));
const onDisk = new Set(
  readdirSync(path.join(root, 'native'))
    .filter((f) => f.endsWith('.cc'))
    .map((f) => `native/${f}`),
);

const problems = [];
const compare = (a, aName, b, bName) => {
  for (const file of a) if (!b.has(file)) problems.push(`${file} is in ${aName} but not in ${bName}`);
};
compare(fromGyp, 'binding.gyp', fromCmake, 'CMakeLists.txt');
compare(fromCmake, 'CMakeLists.txt', fromGyp, 'binding.gyp');
compare(onDisk, 'native/', fromGyp, 'binding.gyp');
compare(fromGyp, 'binding.gyp', onDisk, 'native/');
if (problems.length > 0) {
  console.error(`native source lists disagree:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`native sources: ${fromGyp.size} files, binding.gyp and CMakeLists.txt agree`);
