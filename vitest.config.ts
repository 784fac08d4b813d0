import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['agent/test/**/*.test.ts', 'protocol/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    setupFiles: ['agent/test/setup/remove-temp-dirs.ts'],
    // expect.poll waits on real agents and browsers sharing 2 cores with another test file: 1 s (the default) is too short under load
    expect: { poll: { timeout: 15_000 } },
  },
});
