#!/usr/bin/env node
// Fails when the install build (binding.gyp) and the developer build (CMakeLists.txt) disagree: on the native
// sources (each other and the .cc files under native/, subfolders included), the preprocessor defines, or the
// include folders.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gyp = JSON.parse(readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
const cmake = readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');

/** The words of a cmake command's argument list, `name(... words ...)`, after its leading `skip` words. */
function cmakeWords(pattern, skip) {
  const match = pattern.exec(cmake);
  if (!match) throw new Error(`CMakeLists.txt: no ${pattern.source} block`);
  return new Set(match[1].split(/\s+/).filter(Boolean).slice(skip));
}

function ccFiles(dir) {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return ccFiles(relative);
    return entry.name.endsWith('.cc') ? [relative] : [];
  });
}

const target = gyp.targets[0];
// node-addon-api's `node_addon_api_except` gyp target defines NAPI_CPP_EXCEPTIONS; cmake says it directly.
const gypDefines = new Set(target.defines ?? []);
if ((target.dependencies ?? []).some((d) => d.endsWith(':node_addon_api_except'))) gypDefines.add('NAPI_CPP_EXCEPTIONS');
const cmakeIncludes = [...cmakeWords(/target_include_directories\(\$\{PROJECT_NAME\} PRIVATE([^)]*)\)/, 0)].filter(
  (dir) => !dir.startsWith('$'),
);

const lists = [
  ['sources', new Set(target.sources ?? []), cmakeWords(/set\(POSIX_MP_SOURCES([^)]*)\)/, 0)],
  ['defines', gypDefines, cmakeWords(/target_compile_definitions\(\$\{PROJECT_NAME\} PRIVATE([^)]*)\)/, 0)],
  ['include folders', new Set(target.include_dirs ?? []), new Set(cmakeIncludes)],
];

const problems = [];
const compare = (what, a, aName, b, bName) => {
  for (const item of a) if (!b.has(item)) problems.push(`${what}: ${item} is in ${aName} but not in ${bName}`);
};
for (const [what, fromGyp, fromCmake] of lists) {
  compare(what, fromGyp, 'binding.gyp', fromCmake, 'CMakeLists.txt');
  compare(what, fromCmake, 'CMakeLists.txt', fromGyp, 'binding.gyp');
}
const onDisk = new Set(ccFiles('native'));
compare('sources', onDisk, 'native/', lists[0][1], 'binding.gyp');
compare('sources', lists[0][1], 'binding.gyp', onDisk, 'native/');
if (problems.length > 0) {
  console.error(`binding.gyp and CMakeLists.txt disagree:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `native build: ${onDisk.size} sources, ${gypDefines.size} defines, ${cmakeIncludes.length} include folders; binding.gyp and CMakeLists.txt agree`,
);
