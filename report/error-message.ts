// The one conversion of a thrown value into a message, for every layer: `Error.message` (its first line
// when `firstLine` is set — Kubernetes client errors carry the whole response body after it), else
// `String(value)`.

export function errorMessage(err: unknown, options: { firstLine?: boolean } = {}): string {
  if (!(err instanceof Error)) return String(err);
  return options.firstLine ? (err.message.split('\n')[0] ?? err.message) : err.message;
}
