import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Temporal's native worker does not like worker threads (sdk-typescript #876): one process per file.
    pool: 'forks',
    // Files share one Temporal dev server and this 2-core machine; one at a time keeps timings honest.
    fileParallelism: false,
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
