// The error a probe, or the HostContext it reads through, throws when it cannot finish: its kind is one of
// the report's closed list (ProbeError.kind). A module of its own so host.ts and the probes both import it
// without importing each other.
import type { ProbeErrorKind } from '../report/constants.js';

export class ProbeFailure extends Error {
  constructor(
    readonly kind: ProbeErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeFailure';
  }
}
