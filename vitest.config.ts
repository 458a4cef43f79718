import { defineConfig } from 'vitest/config';

// Three projects, run one after another (sequence.groupOrder) so that the heavy ones never share the two cores:
// - `fast`: pure logic, simulator, git end to end, replayed real-Flux transcripts;
// - `kube`: a real kube-apiserver + etcd built from Go modules, with the real Flux CRDs;
// - `flux`: the real-Flux conformance suite (kube-apiserver, etcd, and the real source-, kustomize- and
//   helm-controller built from their Go modules; see docs/testing.md).
export default defineConfig({
  test: {
    // Every session state the engine publishes is deep-frozen (src/engine/monitor.ts): a write to a published state
    // throws in every test that runs the engine (test/unit/snapshot-state.test.ts).
    env: { FLUX_MONITOR_FREEZE_STATES: '1' },
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.{ts,tsx}', 'test/e2e/**/*.test.{ts,tsx}', 'test/ui/**/*.test.{ts,tsx}'],
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
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
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'flux',
          include: ['test/conformance/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
