// GET /dashboard/: the fleet dashboard, three static files (aggregator/dashboard/) read once at start and
// served from memory. They hold no data: the page fetches GET /api/v1/* like any client (with the
// bearer token the operator types in when the API asks for one), so they are served without
// authentication, with a Content-Security-Policy that allows this origin only.
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

/** The dashboard's files, beside the compiled modules in dist/ too (scripts/copy-assets.mjs). */
const ASSET_DIR = new URL('../../dashboard/', import.meta.url);

const ASSETS = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
} as const;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files' bytes, for the route and for measuring what the dashboard holds in memory. */
export function loadDashboardAssets(dir: URL = ASSET_DIR): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(ASSETS)) {
    out.set(path, { body: readFileSync(new URL(file, dir)), type });
  }
  return out;
}

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const assets = loadDashboardAssets();
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/dashboard/'));
  for (const [path, asset] of assets) {
    app.get(`/dashboard/${path}`, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // The files change only with the aggregator's version: revalidate rather than keep stale copies.
        .header('cache-control', 'no-cache')
        .send(asset.body),
    );
  }
};
