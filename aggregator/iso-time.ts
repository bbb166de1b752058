// ISO 8601 times of epoch milliseconds, the last one remembered: at thousands of reports a second many
// fall in the same millisecond, and each report's result and view would otherwise format it anew.

let lastMs = Number.NaN;
let lastIso = '';

/** `new Date(ms).toISOString()`, formatted once per distinct millisecond in a row. */
export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
