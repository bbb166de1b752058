import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createSender,
  parseAggregatorUrl,
  parseRetryAfter,
  reportsEndpoint,
  serverMessage,
} from '../../agent/sender.js';
import { UsageError } from '../../report/usage-error.js';
import { generateTestCa, generateTestPki, type TestPki } from '../helpers/certs.js';
import { sampleReport } from './sample.js';
import { startServer, type TestServer } from './servers.js';

let dir: string;
const servers: TestServer[] = [];
const serve = async (...args: Parameters<typeof startServer>) => {
  const s = await startServer(...args);
  servers.push(s);
  return s;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'agent-sender-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('aggregator URL', () => {
  it('accepts https anywhere and http only to loopback unless allowed', () => {
    expect(parseAggregatorUrl('https://agg.example:8443', false).href).toBe('https://agg.example:8443/');
    expect(parseAggregatorUrl('http://127.0.0.1:8080', false).protocol).toBe('http:');
    expect(parseAggregatorUrl('http://localhost:8080', false).protocol).toBe('http:');
    expect(() => parseAggregatorUrl('http://agg.example', false)).toThrow(/--allow-insecure-http/);
    expect(parseAggregatorUrl('http://agg.example', true).protocol).toBe('http:');
    expect(() => parseAggregatorUrl('ftp://agg', true)).toThrow(UsageError);
    expect(() => parseAggregatorUrl('not a url', true)).toThrow(UsageError);
    expect(() => parseAggregatorUrl('https://u:p@agg', true)).toThrow(UsageError);
  });

  it('posts to <base>/api/v1/reports', () => {
    expect(reportsEndpoint(new URL('https://a:1')).href).toBe('https://a:1/api/v1/reports');
    expect(reportsEndpoint(new URL('https://a:1/prefix/')).href).toBe('https://a:1/prefix/api/v1/reports');
  });

  it('parses Retry-After as seconds or a date, bounded', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999999', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('extracts the server message', () => {
    expect(
      serverMessage(400, '{"statusCode":400,"error":"Bad Request","message":"body/node must match"}'),
    ).toBe('HTTP 400: body/node must match');
    expect(serverMessage(403, '{"error":"forbidden"}')).toBe('HTTP 403: forbidden');
    expect(serverMessage(502, '<html> bad   gateway </html>')).toBe('HTTP 502: <html> bad gateway </html>');
    expect(serverMessage(500, '')).toBe('HTTP 500');
  });
});

describe('sending', () => {
  it('posts JSON with the bearer token re-read before every report', async () => {
    const server = await serve(() => ({ status: 202, body: '{"accepted":true}' }));
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'first-token\n');
    const send = createSender({ url: new URL(server.url), tokenFile });
    const report = sampleReport();
    expect(await send(report)).toEqual({ kind: 'accepted', status: 202 });
    await writeFile(tokenFile, 'rotated-token');
    expect(await send(report)).toEqual({ kind: 'accepted', status: 202 });

    expect(server.received.map((r) => r.headers.authorization)).toEqual([
      'Bearer first-token',
      'Bearer rotated-token',
    ]);
    const first = server.received[0]!;
    expect(first.method).toBe('POST');
    expect(first.url).toBe('/api/v1/reports');
    expect(first.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first.body)).toEqual(report);
  });

  it('reports a missing or empty token file as a local error without contacting the server', async () => {
    const server = await serve(() => ({ status: 202 }));
    const missing = createSender({ url: new URL(server.url), tokenFile: path.join(dir, 'nope') });
    expect(await missing(sampleReport())).toEqual({
      kind: 'local-error',
      message: `cannot read token file ${path.join(dir, 'nope')}: ENOENT`,
    });
    const emptyFile = path.join(dir, 'empty');
    await writeFile(emptyFile, '  \n');
    const empty = createSender({ url: new URL(server.url), tokenFile: emptyFile });
    expect(await empty(sampleReport())).toMatchObject({
      kind: 'local-error',
      message: expect.stringMatching(/empty/),
    });
    expect(server.received).toHaveLength(0);
  });

  it('classifies answers: 4xx rejected (except 408/429), 5xx/408/429 retryable with Retry-After', async () => {
    let answer = { status: 400, body: '{"message":"body must have required property facts"}', headers: {} };
    const server = await serve(() => answer);
    const send = createSender({ url: new URL(server.url) });
    expect(await send(sampleReport())).toEqual({
      kind: 'rejected',
      status: 400,
      message: 'HTTP 400: body must have required property facts',
    });
    answer = { status: 401, body: '{"message":"invalid token"}', headers: {} };
    expect(await send(sampleReport())).toMatchObject({ kind: 'rejected', status: 401 });
    answer = { status: 429, body: '{"message":"slow down"}', headers: { 'retry-after': '7' } };
    expect(await send(sampleReport())).toEqual({
      kind: 'unavailable',
      status: 429,
      reason: 'HTTP 429: slow down',
      retryAfterMs: 7000,
    });
    answer = { status: 408, body: '', headers: {} };
    expect(await send(sampleReport())).toMatchObject({ kind: 'unavailable', status: 408 });
    answer = { status: 503, body: '{"message":"not ready"}', headers: {} };
    expect(await send(sampleReport())).toEqual({
      kind: 'unavailable',
      status: 503,
      reason: 'HTTP 503: not ready',
    });
  });

  it('times out a server that never answers', async () => {
    const server = await serve(() => 'hang');
    const send = createSender({ url: new URL(server.url), timeoutMs: 150 });
    const result = await send(sampleReport());
    expect(result).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/no answer within 0.15s/),
    });
  });

  it('reports a refused connection as unavailable', async () => {
    const server = await serve(() => ({ status: 200 }));
    const url = new URL(server.url);
    await server.close();
    const send = createSender({ url });
    expect(await send(sampleReport())).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('aborts when told to', async () => {
    const server = await serve(() => 'hang');
    const send = createSender({ url: new URL(server.url), timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = send(sampleReport(), controller.signal);
    setTimeout(() => controller.abort(), 20);
    expect(await pending).toMatchObject({ kind: 'unavailable', reason: expect.stringMatching(/aborted/) });
  });
});

describe('https and the CA file', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await generateTestPki();
  });

  it('trusts the CA from --ca-file and re-reads it when it rotates', async () => {
    const server = await serve(() => ({ status: 200 }), pki.server);
    const caFile = path.join(dir, 'ca.crt');
    const other = await generateTestCa('some other CA');
    await writeFile(caFile, other.cert);
    const send = createSender({ url: new URL(server.url), caFile });
    const untrusted = await send(sampleReport());
    expect(untrusted).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/TLS: check --ca-file/),
    });
    await writeFile(caFile, pki.ca.cert);
    expect(await send(sampleReport())).toEqual({ kind: 'accepted', status: 200 });
    expect(server.received).toHaveLength(1);
  });

  it('an unreadable CA file is a local error', async () => {
    const server = await serve(() => ({ status: 200 }), pki.server);
    const send = createSender({ url: new URL(server.url), caFile: path.join(dir, 'missing-ca.crt') });
    expect(await send(sampleReport())).toMatchObject({
      kind: 'local-error',
      message: expect.stringMatching(/CA file/),
    });
  });
});
