import { defineConfig } from 'tsup';

export default defineConfig({
  // process/child.ts is the program Process children run (dist/child.js); ESM code splitting makes it share its
  // modules with index.js, so a child and the user's code use the same copy of the package.
  // process/child_warm_up.ts imports the package by its name, as users do: that import must stay one.
  entry: { index: 'lib/index.ts', child: 'lib/process/child.ts', child_warm_up: 'lib/process/child_warm_up.ts' },
  external: ['posix-mp'],
  format: ['esm', 'cjs'],
  dts: true,
  shims: true,
  sourcemap: true,
  clean: true,
  // Classes with static blocks would otherwise be bundled as `_Lock` etc.: users see these names in stack
  // traces and `x.constructor.name`.
  keepNames: true,
  target: 'node18',
  outDir: 'dist',
});
