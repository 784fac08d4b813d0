// package.json's "bench" script runs `node bench/run.js` after `npm run build`; the harness itself
// is TypeScript (bench/run.ts), compiled by the build to dist/bench/run.js.
await import('../dist/bench/run.js');
