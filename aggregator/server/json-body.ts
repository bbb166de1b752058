// Request bodies: JSON only, for the whole server. Fastify parses a body before routing decides it is a
// 404 (and for OPTIONS), so this is set on the root instance rather than inside the reports route.
import type { FastifyBodyParser, FastifyError, FastifyInstance } from 'fastify';
import { errorMessage } from '../../report/error-message.js';

/** Only application/json is parsed (fastify would also parse text/plain): anything else is a 415. */
export function acceptJsonOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(app));
}

/** The server's JSON body parser (a route may wrap it: routes/reports.ts recognises heartbeats first). */
export function jsonBodyParser(app: FastifyInstance): FastifyBodyParser<string> {
  return explainJsonErrors(app.getDefaultJsonParser('error', 'error'));
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
      done(
        Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }),
        undefined,
      );
    });
  };
}
