import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests own loopback ports, network namespaces and databases: run files one at a time
    // on this 2-core machine so timing-sensitive probe measurements are not skewed by CDK synths.
    fileParallelism: false,
    reporters: ['default'],
    allowOnly: false,
    passWithNoTests: false,
  },
});
