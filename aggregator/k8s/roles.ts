// Whether a string (our role label's value, a configured role) names a role: the one check for every reader.
import { ROLES, type Role } from '../../report/constants.js';

export function isRole(value: string | undefined): value is Role {
  return value !== undefined && (ROLES as readonly string[]).includes(value);
}
