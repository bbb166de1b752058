// What a failed Kubernetes API call says, read the one way every caller (reconciler, prune, TLS bootstrap,
// TokenReview auth) uses: client-node's ApiException carries `code`; its Watch and fetch errors `statusCode`.
import { errorMessage } from '../../report/error-message.js';

/** The HTTP status of a failed API call, or undefined when there was none (network error, timeout). */
export function apiStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  return typeof e.statusCode === 'number' ? e.statusCode : undefined;
}

/** One line for logs and messages: `HTTP <code>: <first line, clipped>`, or the first line alone. */
export function describeApiError(err: unknown): string {
  const code = apiStatus(err);
  const msg = errorMessage(err, { firstLine: true });
  return code === undefined ? msg : `HTTP ${code}: ${msg.slice(0, 200)}`;
}

/** A response header of a failed API call (names compared case-insensitively), e.g. `retry-after`. */
export function apiHeader(err: unknown, name: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const headers = (err as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted && typeof v === 'string') return v;
  }
  return undefined;
}
