// SubjectAccessReview (authorization.k8s.io/v1) for the emulator: a small allow-list instead of RBAC. A
// rule names a subject (a user name or a group) and the resource attributes it may use (`*` matches
// anything); everything else is denied. Every review is recorded.
import { isObject } from './json.js';

export interface AccessRule {
  /** A user name (`system:serviceaccount:ns:name`) or, with `group: true`, a group name. */
  subject: string;
  group?: boolean;
  verb: string;
  apiGroup: string;
  resource: string;
}

export interface AccessReviewStatus {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
}

export interface RecordedAccessReview {
  user: string;
  groups: string[];
  attributes: { verb: string; group: string; resource: string };
  status: AccessReviewStatus;
}

const matches = (want: string, got: string) => want === '*' || want === got;

export class AccessReviews {
  private readonly rules: AccessRule[] = [];
  readonly reviews: RecordedAccessReview[] = [];

  /** Allow a subject; returns a function removing the rule again. */
  allow(rule: AccessRule): () => void {
    this.rules.push(rule);
    return () => {
      const i = this.rules.indexOf(rule);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  review(spec: unknown): AccessReviewStatus {
    const s = isObject(spec) ? spec : {};
    const user = typeof s['user'] === 'string' ? s['user'] : '';
    const groups = Array.isArray(s['groups'])
      ? s['groups'].filter((g): g is string => typeof g === 'string')
      : [];
    const ra = isObject(s['resourceAttributes']) ? s['resourceAttributes'] : {};
    const attributes = {
      verb: typeof ra['verb'] === 'string' ? ra['verb'] : '',
      group: typeof ra['group'] === 'string' ? ra['group'] : '',
      resource: typeof ra['resource'] === 'string' ? ra['resource'] : '',
    };
    const allowed = this.rules.some(
      (r) =>
        (r.group ? groups.includes(r.subject) : r.subject === user) &&
        matches(r.verb, attributes.verb) &&
        matches(r.apiGroup, attributes.group) &&
        matches(r.resource, attributes.resource),
    );
    const status: AccessReviewStatus = allowed
      ? { allowed: true, reason: 'allowed by an emulator rule' }
      : { allowed: false };
    this.reviews.push({ user, groups, attributes, status });
    return status;
  }
}
