// Request validation: fastify's own ajv compiler (@fastify/ajv-compiler, fastify's defaults) with the
// server's options, built once here and set on the root instance, so every route validates alike and the
// reports route can wrap the same compiler (heartbeat-bodies.ts) instead of building a second ajv.
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';

/** A report is validated exactly as sent: no "12" → 12, no silently dropped unknown fields; one error. */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, allErrors: false } as const;

export type SchemaCompiler = FastifySchemaCompiler<unknown>;

/** The compiler fastify would build from `ajv: { customOptions: AJV_OPTIONS }`. */
export function buildSchemaCompiler(): SchemaCompiler {
  // Its types describe ajv's compile(schema); what it returns takes fastify's route definition.
  return AjvCompiler()({}, { customOptions: AJV_OPTIONS }) as unknown as SchemaCompiler;
}
