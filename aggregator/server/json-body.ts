// Request bodies: JSON only, for the whole server. Fastify parses a body before routing decides it is a
// 404 (and for OPTIONS), so this is set on the root instance rather than inside the reports route.
import type { FastifyBodyParser, FastifyError, FastifyInstance } from 'fastify';
import { errorMessage } from '../../report/error-message.js';

/** Only application/json is parsed (fastify would also parse text/plain): anything else is a 415. */
export function acceptJsonOnly(app: FastifyInstance): void {
  const secure = explainJsonErrors(app.getDefaultJsonParser('error', 'error'));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body !== 'string' || mayPoison(body)) return secure(request, body as string, done);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (syntax) {
      return done(invalidJson(`body is not valid JSON: ${errorMessage(syntax)}`), undefined);
    }
    done(null, value);
  });
}

/**
 * Whether a body needs secure-json-parse's check for `__proto__` and `constructor.prototype` keys. A key
 * can only spell them without `\u` escapes (JSON has no other escape for letters or `_`), so a body with
 * neither word nor any `\u` — every report an agent sends — is safe to JSON.parse directly, skipping
 * the two regular-expression scans of the whole body; any other body (also an empty one or one with a
 * byte-order mark) takes fastify's secure parser, as before.
 */
export function mayPoison(body: string): boolean {
  return (
    body.length === 0 ||
    body.charCodeAt(0) === 0xfeff ||
    body.includes('__proto__') ||
    body.includes('constructor') ||
    body.includes('\\u')
  );
}

function invalidJson(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
}

/** Fastify's JSON parser (secure-json-parse, __proto__/constructor → error) with a message saying why. */
function explainJsonErrors(parse: FastifyBodyParser<string>): FastifyBodyParser<string> {
  return (request, body, done) => {
    parse(request, body, (err, value) => {
      if (!err) return done(null, value);
      if ((err as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(err, undefined);
      let message: string;
      try {
        JSON.parse(body);
        message = 'body contains a forbidden "__proto__" or "constructor.prototype" key';
      } catch (syntax) {
        message = `body is not valid JSON: ${errorMessage(syntax)}`;
      }
      done(invalidJson(message), undefined);
    });
  };
}
