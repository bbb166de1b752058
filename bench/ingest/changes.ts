// BENCHMARKS.md's "What each change bought" for ingest (issue 16): hand-written from side-by-side runs
// (bench/ingest/profile.ts and this part), kept here so that `npm run bench` regenerates it.
export const CHANGES: string[] = [];
