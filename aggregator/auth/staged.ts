// Authentication in two steps, so the server can reject a missing or bad token in its onRequest hook
// before reading the body, and check the node binding only once the report is parsed.
import type { AgentAuthenticator, AuthOutcome } from '../contracts.js';

/** An authenticated caller; `authorize` decides whether it may speak for a node. */
export interface Principal {
  identity: string;
  authorize(node: string): AuthOutcome | Promise<AuthOutcome>;
}

export type Identification =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403 | 503; reason: string; retryAfterSeconds?: number };

export interface StagedAuthenticator extends AgentAuthenticator {
  /** Synchronous when it can answer at once (a cached or shared token): the route then awaits nothing. */
  identify(token: string | undefined): Identification | Promise<Identification>;
}

export function isStaged(auth: AgentAuthenticator): auth is StagedAuthenticator {
  return typeof (auth as Partial<StagedAuthenticator>).identify === 'function';
}

/** `authenticate(token, node)` of the contract, from the two steps. */
export async function authenticateStaged(
  auth: StagedAuthenticator,
  token: string | undefined,
  node: string,
): Promise<AuthOutcome> {
  const id = await auth.identify(token);
  if (!id.ok) return id;
  return id.principal.authorize(node);
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
