import { defineConfig } from 'vitest/config';

// Two projects: `fast` (pure logic, simulator, git end to end) and `kube`
// (a real kube-apiserver + etcd built from Go modules, see docs/testing.md).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.{ts,tsx}', 'test/e2e/**/*.test.{ts,tsx}', 'test/ui/**/*.test.{ts,tsx}'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'kube',
          include: ['test/integration/**/*.test.ts', 'test/harness/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
