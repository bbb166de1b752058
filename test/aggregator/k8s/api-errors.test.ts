// The one reading of failed API calls and of role names, shared by informer, prune, TLS bootstrap,
// reconciler, integration and the spec evaluator.
import { describe, expect, it } from 'vitest';
import { apiStatus, describeApiError } from '../../../aggregator/k8s/api-errors.js';
import { isRole } from '../../../report/constants.js';

describe('api errors', () => {
  it('reads the status from ApiException `code` or Watch `statusCode`', () => {
    expect(apiStatus(Object.assign(new Error('x'), { code: 409 }))).toBe(409);
    expect(apiStatus(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(apiStatus(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(apiStatus('text')).toBeUndefined();
  });

  it('describes an error on one clipped line', () => {
    const long = Object.assign(new Error(`${'a'.repeat(300)}\nbody`), { code: 500 });
    expect(describeApiError(long)).toBe(`HTTP 500: ${'a'.repeat(200)}`);
    expect(describeApiError(new Error('connect ECONNREFUSED\nstack'))).toBe('connect ECONNREFUSED');
    expect(describeApiError('plain')).toBe('plain');
  });
});

describe('isRole', () => {
  it('accepts the five roles only', () => {
    for (const r of ['control-plane', 'operator', 'compute', 'gpu', 'jetson']) expect(isRole(r)).toBe(true);
    expect(isRole('GPU')).toBe(false);
    expect(isRole('')).toBe(false);
    expect(isRole(undefined)).toBe(false);
  });
});
