import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['vitest.global-setup.ts'],
    include: [
      'src/**/*.test.ts',
      'projections/**/*.test.ts',
      'drills/**/*.test.ts',
      'bench/**/*.test.ts',
      'compose/**/*.test.ts',
      'kubernetes/**/*.test.ts',
      'docs/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: suites that spawn processes or fsync heavily run better one file at a time each.
    maxWorkers: 2,
    // CLI tests spawn bin/failsafe.js: run the sources, never a dist/ built before the last edit.
    // kafkajs warns on every producer unless its v2 partitioner is asked for or this is set.
    env: { FAILSAFE_FROM_SOURCE: '1', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  },
});
