// GET /dashboard/: the three static files with a same-origin-only Content-Security-Policy, no
// authentication (they hold no data), and kept out of the OpenAPI document.
import { afterEach, describe, expect, it } from 'vitest';
import { makeApp, type TestApp } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

describe('the dashboard files', () => {
  it('serves the page, its script and styles with their types and a strict CSP', async () => {
    t = await makeApp();
    const redirect = await t.app.inject({ method: 'GET', url: '/dashboard' });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers['location']).toBe('/dashboard/');

    const page = await t.app.inject({ method: 'GET', url: '/dashboard/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script type="module" src="app.js"></script>');
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(String(page.headers['content-security-policy'])).toContain("connect-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');

    const js = await t.app.inject({ method: 'GET', url: '/dashboard/app.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain("const API = '/api/v1'");
    const css = await t.app.inject({ method: 'GET', url: '/dashboard/style.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');

    expect((await t.app.inject({ method: 'GET', url: '/dashboard/secret.txt' })).statusCode).toBe(404);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/dashboard'))).toEqual([]);
  });
});
