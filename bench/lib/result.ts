// What each benchmark part hands back to run.ts: its method, measured figures and targets.

export type PartId = 'agent' | 'ingest' | 'scale' | 'resync' | 'curves';

export interface Target {
  what: string;
  target: string;
  measured: string;
  met: boolean;
  /** When missed: what limits it. */
  limitedBy?: string;
}

export interface PartResult {
  id: PartId;
  title: string;
  /** Markdown paragraphs/bullets describing how it was measured. */
  method: string[];
  /** Measured figures: [name, value]. */
  rows: Array<[string, string]>;
  targets: Target[];
  notes: string[];
  /** Further sections after the results (e.g. what each change bought): a heading and its markdown lines. */
  sections?: Array<{ heading: string; lines: string[] }>;
  /** Tables after the rows (e.g. a metric per node count): a title, a header and rows of cells. */
  tables?: Table[];
}

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

export interface BenchOptions {
  quick: boolean;
  /** Repetitions of timed measurements (3 full, 1 quick). */
  reps: number;
  log: (line: string) => void;
}
