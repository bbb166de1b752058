// Error bodies: every error is JSON `{ statusCode, error, message }`, and a validation error names the
// offending field (`body/facts/memory/totalBytes must be integer`, `body/facts/foo is not allowed`).
import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { DNS_SUBDOMAIN_PATTERN, DNS_SUBDOMAIN_RULE } from '../../report/grammars.js';
import type { RejectReason } from './metrics.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** The status an error is answered with: its own when it is an HTTP error status, else 500. */
export function errorStatus(err: FastifyError): number {
  return err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
}

/** One readable message from ajv's errors (allErrors is off, so these are one failure and its anyOf). */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  return new Error(describeValidation(errors, dataVar));
}

export function describeValidation(errors: FastifySchemaValidationError[], dataVar: string): string {
  const leaves = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  if (leaves.length === 0) {
    const e = errors[0];
    return e ? `${dataVar}${e.instancePath} ${e.message ?? 'is invalid'}` : `${dataVar} is invalid`;
  }
  // The deepest failure is the informative one (a Nullable(object) fails both at the leaf and as "not null").
  let deepest = leaves[0]!;
  for (const e of leaves) if (e.instancePath.length > deepest.instancePath.length) deepest = e;
  const path = `${dataVar}${deepest.instancePath}`;
  let atSamePath = leaves.filter((e) => e.instancePath === deepest.instancePath);
  // Nullable(X): "must be null" says nothing when X failed for a better reason at the same place.
  const informative = atSamePath.filter((e) => !(e.keyword === 'type' && e.params['type'] === 'null'));
  if (informative.length > 0 && informative.some((e) => e.keyword !== 'type')) atSamePath = informative;
  if (atSamePath.length === 1) return describeOne(atSamePath[0]!, path);
  if (atSamePath.length > 1) {
    const consts = atSamePath.filter((e) => e.keyword === 'const');
    if (consts.length === atSamePath.length) {
      return `${path} must be one of ${consts.map((e) => JSON.stringify(e.params['allowedValue'])).join(', ')}`;
    }
    const types = atSamePath.filter((e) => e.keyword === 'type');
    if (types.length === atSamePath.length) {
      return `${path} must be ${types.map((e) => String(e.params['type'])).join(' or ')}`;
    }
    return `${path} ${atSamePath.map((e) => e.message ?? 'is invalid').join(', or ')}`;
  }
  return describeOne(deepest, path);
}

const NOT_A_NODE_NAME = `is not a valid node name: a node name is a DNS-1123 subdomain (${DNS_SUBDOMAIN_RULE})`;

function describeOne(e: FastifySchemaValidationError, path: string): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path}/${String(e.params['additionalProperty'])} is not allowed (unknown field)`;
    case 'required':
      return `${path}/${String(e.params['missingProperty'])} is required`;
    case 'enum':
      return `${path} must be one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${path} must be ${JSON.stringify(e.params['allowedValue'])}`;
    case 'pattern':
      // A node name (the report's `node`, a route's `name`): the grammar in words, not the regex.
      if (e.params['pattern'] === DNS_SUBDOMAIN_PATTERN) return `${path} ${NOT_A_NODE_NAME}`;
      return `${path} ${e.message ?? 'is invalid'}`;
    default:
      return `${path} ${e.message ?? 'is invalid'}`;
  }
}

/** Which rejection reason (metrics label) an error of POST /api/v1/reports is. */
export function rejectReasonOf(statusCode: number, code: string | undefined): RejectReason {
  if (code === 'FST_ERR_VALIDATION') return 'schema';
  switch (statusCode) {
    case 400:
      return code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'malformed'
        : 'schema';
    case 401:
      return 'auth';
    case 403:
      return 'forbidden';
    case 413:
      return 'too-large';
    case 415:
      return 'content-type';
    case 503:
      return 'unavailable';
    default:
      return 'other';
  }
}
