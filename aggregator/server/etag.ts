// Conditional GETs for the read API: every 200 answer carries a weak ETag of its body, and a request whose
// If-None-Match names it gets 304 without a body. The dashboard polls with it, so an unchanged fleet costs
// a hash instead of a transfer and a re-render.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export function etagOf(body: string | Buffer): string {
  return `W/"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** Whether an If-None-Match header value names `etag` (a list, `*`, weak or strong forms). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

/** Adds ETag and 304 answers to the GET routes of `app`'s context (register inside an encapsulated one). */
export function conditionalGets(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' || reply.statusCode !== 200) return payload;
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const etag = etagOf(payload);
    reply.header('etag', etag);
    // Caches may keep the body but must ask again before using it.
    reply.header('cache-control', 'private, no-cache');
    if (!matchesEtag(request.headers['if-none-match'], etag)) return payload;
    reply.code(304);
    reply.removeHeader('content-length');
    return '';
  });
}
