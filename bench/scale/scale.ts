import type { BenchOptions, PartResult } from '../lib/result.js';
export async function runScalePart(_opts: BenchOptions): Promise<PartResult> {
  throw new Error('not yet');
}
