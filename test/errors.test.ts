// One list of error codes: ERROR_CODES (lib/internal/errors.ts) is what the library throws, docs/api.md's
// Errors table is what users read. These tests fail when the two disagree, in either direction, and when
// the sources use a code that is not in the list.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { ERROR_CODES } from '../lib/internal/errors.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The rows of the table in docs/api.md's "Errors" section whose code is an `ERR_*` code (not errno names). */
function documentedCodes(): { code: string; errorClass: string; when: string }[] {
  const api = readFileSync(path.join(root, 'docs/api.md'), 'utf8');
  const section = /^## Errors\n([\s\S]*?)(?=^## )/m.exec(api)?.[1];
  if (section === undefined) throw new Error('docs/api.md has no "## Errors" section followed by another section');
  const rows = [];
  for (const line of section.split('\n')) {
    const cells = /^\|\s*`(ERR_\w+)`\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (cells) rows.push({ code: cells[1]!, errorClass: cells[2]!.trim(), when: cells[3]!.trim() });
  }
  return rows;
}

/** Every file under `dir` (relative to the repository) whose name ends with one of `extensions`. */
function sources(dir: string, extensions: string[]): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => extensions.some((extension) => file.endsWith(extension)))
    .map((file) => path.join(root, dir, file));
}

/** Node's codes that the library only recognises in errors it catches (child.ts), and never throws. */
const CAUGHT_ONLY = new Set(['ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE']);

describe('error codes', () => {
  it('ERROR_CODES has no duplicates, and only ERR_ codes', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^ERR_[A-Z0-9_]*[A-Z0-9]$/);
  });

  it("docs/api.md's Errors table documents every code in ERROR_CODES, once, with its class and when it is thrown", () => {
    const rows = documentedCodes();
    const documented = rows.map((row) => row.code);
    const undocumented = ERROR_CODES.filter((code) => !documented.includes(code));
    expect(undocumented, 'codes in ERROR_CODES missing from the Errors table of docs/api.md').toEqual([]);
    expect(documented.filter((code, i) => documented.indexOf(code) !== i), 'codes listed twice in the table').toEqual([]);
    for (const row of rows) {
      // Queue's Full and Empty keep the names of Python's queue.Full and queue.Empty.
      expect(row.errorClass, `the class of ${row.code}`).toMatch(/^`(\w*Error|Empty|Full)`$/);
      expect(row.when, `when ${row.code} is thrown`).not.toBe('');
    }
  });

  it("every code in docs/api.md's Errors table is in ERROR_CODES", () => {
    const known: readonly string[] = ERROR_CODES;
    const unknown = documentedCodes()
      .map((row) => row.code)
      .filter((code) => !known.includes(code));
    expect(unknown, 'codes documented in docs/api.md that ERROR_CODES does not list').toEqual([]);
  });

  it('every ERR_ code that lib/ and native/ mention is in ERROR_CODES', () => {
    const known: readonly string[] = ERROR_CODES;
    const strays: string[] = [];
    for (const file of [...sources('lib', ['.ts']), ...sources('native', ['.cc', '.h'])]) {
      for (const [, code] of readFileSync(file, 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
        if (!known.includes(code!) && !CAUGHT_ONLY.has(code!)) strays.push(`${path.relative(root, file)}: ${code}`);
      }
    }
    expect(strays, 'codes used in the sources but missing from ERROR_CODES (lib/internal/errors.ts)').toEqual([]);
  });
});
