#!/usr/bin/env node
// Fails when the install build (binding.gyp) and the developer build (CMakeLists.txt) disagree: on the native
// sources (each other and the .cc files under native/, subfolders included), the preprocessor defines, or the
// include folders. Two targets: the addon posix_mp (every .cc outside native/forkserver/) and the fork
// server's posix_mp_forkserver (native/forkserver/).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gyp = JSON.parse(readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
const cmake = readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');

/** The words of a cmake command's argument list, `name(... words ...)`, after its leading `skip` words. */
function cmakeWords(pattern, skip = 0) {
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

const FORKSERVER_DIR = 'native/forkserver/';
/** Files of the main addon that the fork server's addon compiles too (they use no N-API). */
const SHARED_WITH_FORKSERVER = new Set(['native/comm/rights_message.cc']);
const problems = [];
const compare = (what, a, aName, b, bName) => {
  for (const item of a) if (!b.has(item)) problems.push(`${what}: ${item} is in ${aName} but not in ${bName}`);
};
const onDisk = ccFiles('native');
let defineCount = 0;
let includeCount = 0;

/** Compares one gyp target with its cmake counterpart, and its sources with the .cc files `ownsFile` picks. */
function checkTarget(targetName, cmakeTarget, cmakeSources, ownsFile) {
  const target = gyp.targets.find((t) => t.target_name === targetName);
  if (!target) throw new Error(`binding.gyp: no target ${targetName}`);
  // node-addon-api's `node_addon_api_except` gyp target defines NAPI_CPP_EXCEPTIONS; cmake says it directly.
  const gypDefines = new Set(target.defines ?? []);
  if ((target.dependencies ?? []).some((d) => d.endsWith(':node_addon_api_except'))) gypDefines.add('NAPI_CPP_EXCEPTIONS');
  const escaped = cmakeTarget.replace(/[${}]/g, '\\$&');
  const cmakeIncludes = [...cmakeWords(new RegExp(`target_include_directories\\(${escaped} PRIVATE([^)]*)\\)`))].filter(
    (dir) => !dir.startsWith('$'),
  );
  const lists = [
    ['sources', new Set(target.sources ?? []), cmakeWords(new RegExp(`set\\(${cmakeSources}([^)]*)\\)`))],
    ['defines', gypDefines, cmakeWords(new RegExp(`target_compile_definitions\\(${escaped} PRIVATE([^)]*)\\)`))],
    ['include folders', new Set(target.include_dirs ?? []), new Set(cmakeIncludes)],
  ];
  for (const [what, fromGyp, fromCmake] of lists) {
    compare(`${targetName} ${what}`, fromGyp, 'binding.gyp', fromCmake, 'CMakeLists.txt');
    compare(`${targetName} ${what}`, fromCmake, 'CMakeLists.txt', fromGyp, 'binding.gyp');
  }
  const owned = new Set(onDisk.filter(ownsFile));
  compare(`${targetName} sources`, owned, 'native/', lists[0][1], 'binding.gyp');
  compare(`${targetName} sources`, lists[0][1], 'binding.gyp', owned, 'native/');
  defineCount += gypDefines.size;
  includeCount += cmakeIncludes.length;
}

checkTarget('posix_mp', '${PROJECT_NAME}', 'POSIX_MP_SOURCES', (file) => !file.startsWith(FORKSERVER_DIR));
checkTarget('posix_mp_forkserver', 'posix_mp_forkserver', 'POSIX_MP_FORKSERVER_SOURCES', (file) => file.startsWith(FORKSERVER_DIR) || SHARED_WITH_FORKSERVER.has(file));
if (problems.length > 0) {
  console.error(`binding.gyp and CMakeLists.txt disagree:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `native build: ${onDisk.length} sources, ${defineCount} defines, ${includeCount} include folders in 2 targets; binding.gyp and CMakeLists.txt agree`,
);
