import { defineConfig } from 'tsup';

/** The package's entry: `import` gets dist/index.js, `require` dist/index.cjs, each with its .d.ts. */
const index = { index: 'lib/index.ts' };

export default defineConfig([
  {
    // process/child.ts is the program Process children run (dist/child.js, always ESM); ESM code splitting makes
    // it share its modules with index.js, so a child and the user's code use the same copy of the package.
    // process/child_warm_up.ts imports the package by its name, as users do: that import must stay one.
    // pool/worker_main.ts is the target of Pool workers (dist/pool_worker.js), found as any Process target.
    // shared/guardian_main.ts is the program of a Manager's guardian (dist/guardian.js; see shared/guardian.ts).
    entry: {
      ...index,
      child: 'lib/process/child.ts',
      child_warm_up: 'lib/process/child_warm_up.ts',
      pool_worker: 'lib/pool/worker_main.ts',
      guardian: 'lib/shared/guardian_main.ts',
    },
    format: ['esm', 'cjs'],
    // The children are loaded as ESM only: CommonJS users need just the package's entry.
    esbuildOptions(options, { format }) {
      if (format === 'cjs') options.entryPoints = index;
    },
    external: ['posix-mp'],
    // Declarations only for the package's entry; tsconfig.json's stripInternal keeps @internal members out.
    dts: { entry: index },
    shims: true,
    sourcemap: true,
    // Both configurations build at once: this one's clean must spare the other's output.
    clean: ['!cli.js', '!cli.js.map'],
    // Classes with static blocks would otherwise be bundled as `_Lock` etc.: users see these names in stack
    // traces and `x.constructor.name`.
    keepNames: true,
    target: 'node18',
    outDir: 'dist',
  },
  {
    // The posix-mp command (dist/cli.js, the package's `bin`): one self-contained ESM file, so that running it
    // loads neither the package's chunks nor, with them, the addon.
    entry: { cli: 'lib/cli/main.ts' },
    format: ['esm'],
    splitting: false,
    sourcemap: true,
    target: 'node18',
    outDir: 'dist',
  },
]);
