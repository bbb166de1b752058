// The Kubernetes API emulator: a test double of the apiserver for the validator's tests and benchmarks.
export type { AccessReviewStatus, AccessRule, RecordedAccessReview } from './access-reviews.js';
export { K8sEmulator, type K8sEmulatorOptions, type ObjectAccess, startK8sEmulator } from './emulator.js';
export type { FaultHandle, FaultSpec } from './faults.js';
export type { JsonObject } from './json.js';
export {
  kubeletConditions,
  type MakeNodeOptions,
  makeNode,
  makePod,
  makeStorageClass,
  type NodeCondition,
  type Taint,
} from './node-builder.js';
export type { LoggedRequest } from './request-log.js';
export {
  generateSigningKey,
  type SigningAlgorithm,
  type SigningKey,
  signJwt,
} from './signing-keys.js';
export {
  DEFAULT_TOKEN_LIFETIME_MS,
  EXTRA_NODE_NAME,
  EXTRA_POD_NAME,
  EXTRA_POD_UID,
  type IssueOptions,
  type TokenReviewOverride,
  type TokenReviewStatus,
} from './tokens.js';
