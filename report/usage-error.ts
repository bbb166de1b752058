// A bad command line: unknown flag, missing or malformed value, contradicting flags. Its message names the
// flag (or environment variable) and the accepted form; every command prints it and exits 2.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
