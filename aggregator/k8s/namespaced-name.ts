// `NAMESPACE/NAME` references (--agent-service-account, --tls-bootstrap), parsed one way everywhere.
import { isDnsSubdomain } from '../../report/grammars.js';

export interface NamespacedName {
  namespace: string;
  name: string;
}

/** A namespace is a DNS label (RFC 1123, ≤ 63); an object name a DNS subdomain (report/grammars.ts). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws an Error saying `expected NAMESPACE/NAME` (callers add which flag). */
export function parseNamespacedName(text: string): NamespacedName {
  const parts = text.split('/');
  const [namespace, name] = parts;
  if (
    parts.length !== 2 ||
    namespace === undefined ||
    name === undefined ||
    namespace.length > 63 ||
    !DNS_LABEL.test(namespace) ||
    !isDnsSubdomain(name)
  ) {
    throw new Error(`expected NAMESPACE/NAME, got ${JSON.stringify(text)}`);
  }
  return { namespace, name };
}
