import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{cli,resources,edge-stack,controllers,tests}/**/*.test.{ts,tsx}'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
