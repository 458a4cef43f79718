// The e2e helpers moved to test/helpers/e2e.ts (the one harness for engine and e2e tests); kept for the imports of
// branches written before the move.
export * from '../helpers/e2e.js';
