// Metrics of agent authentication, on the aggregator's Registry when one is given: whether tokens are
// verified locally against the issuer's keys (0 = the TokenReview-only fallback), every verification's
// outcome (accepted, or the refusal's reason), and the TokenReviews sent.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AuthMetrics {
  localVerification: Gauge;
  /** Verification outcomes: `result` is `accepted` or the refusal's reason. */
  verifications: Counter<'result'>;
  tokenReviews: Counter;
}

export function createAuthMetrics(registry: Registry): AuthMetrics {
  return {
    localVerification: new Gauge({
      name: 'osmo_validator_auth_local_verification',
      help: "1 while agent tokens are verified locally against the service-account issuer's keys before any TokenReview; 0 while the keys cannot be fetched and every token goes to TokenReview.",
      registers: [registry],
    }),
    verifications: new Counter({
      name: 'osmo_validator_token_verifications_total',
      help: 'Agent token verifications by result: accepted, or the reason of the refusal (signature, expired, wrong-node, node-budget, ...).',
      labelNames: ['result'],
      registers: [registry],
    }),
    tokenReviews: new Counter({
      name: 'osmo_validator_auth_token_reviews_total',
      help: 'TokenReviews sent to the API server for agent tokens.',
      registers: [registry],
    }),
  };
}
