#!/usr/bin/env node
// Adds the fork server's addon to prebuilds/ (run by `npm run prebuildify`, after prebuildify, whose node-gyp
// build made it in build/Release). prebuildify --napi packages only the N-API addon; this one uses Node
// internals and so works with one Node ABI only: it is copied as
// prebuilds/<platform>-<arch>/posix_mp_forkserver.abi<NODE_MODULE_VERSION>.so, the name
// lib/process/forkserver_native.ts looks for, so that another Node finds no file and starts with 'spawn'.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = path.join(root, 'build', 'Release', 'posix_mp_forkserver.so');
if (!existsSync(built)) throw new Error(`${built} is missing: prebuildify's node-gyp build should have made it`);
// The ABI it was built for, as it reports it (the same check forkserver_native.ts makes when loading).
const module = { exports: {} };
process.dlopen(module, built);
const abi = module.exports.moduleVersion;
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const target = path.join(dir, `posix_mp_forkserver.abi${abi}.so`);
copyFileSync(built, target);
console.log(`prebuild-forkserver: ${path.relative(root, target)} (Node ABI ${abi})`);
