// The dashboard end to end in headless Chromium: agents on fixture hosts report to an aggregator over
// HTTPS (throwaway CA, shared token); the page lists the nodes, filters and sorts them with deep links,
// shows a node page and a check page, and picks up a verdict change without reloading. A screenshot is
// saved under test/artifacts/ (not committed).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../../agent/agent-command.js';
import { collectFacts } from '../../../agent/collect.js';
import { createHostContext } from '../../../agent/host.js';
import { memoryLogger } from '../../../agent/log.js';
import { SharedTokenAuthenticator } from '../../../aggregator/auth/shared-token.js';
import { type Browser, launchChromium } from '../../../testing/dashboard/browser.js';
import {
  type FleetAggregator,
  fixtureHostRoot,
  startFleetAggregator,
} from '../../../testing/dashboard/fleet.js';
import { generateTestPki } from '../../helpers/certs.js';

const TOKEN = 'dashboard-e2e-token-0123456789';
const ARTIFACTS = path.resolve('test/artifacts');

let dir: string;
let caFile: string;
let tokenFile: string;
let agg: FleetAggregator;
let browser: Browser;

/** One agent run (`--once`) reporting `host`'s facts under `node`. */
async function report(host: string, node: string): Promise<void> {
  const code = await runAgent(
    [
      ...['--aggregator', agg.url, '--once', '--ca-file', caFile, '--token-file', tokenFile],
      ...['--host-root', fixtureHostRoot(host), '--registries', 'none', '--node-name', node],
    ],
    {
      env: {},
      collect: (config) =>
        collectFacts(createHostContext({ root: config.hostRoot, execMode: config.execMode, path: '' }), {
          registries: config.registries,
          registryTimeoutMs: 1000,
        }),
      log: memoryLogger(),
      stdout: () => {},
      stderr: () => {},
      handleSignals: false,
    },
  );
  expect(code).toBe(0);
}

const rowNames = (page: Page) =>
  page.locator('table.nodes tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')));
const cell = (page: Page, node: string, col: string) =>
  page.locator(`table.nodes tbody tr[data-node="${node}"] td[data-col="${col}"]`);

/** The DOM the page functions below read (this project's TypeScript has no DOM types). */
interface PageDom {
  document: {
    querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null }>;
    querySelector(selector: string): { textContent: string | null } | null;
  };
}

/** Waits (bounded) until the table shows exactly `names`, in this order. */
async function waitForRows(page: Page, names: string[]): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const { document } = globalThis as unknown as PageDom;
      const rows = [...document.querySelectorAll('table.nodes tbody tr')].map((r) =>
        r.getAttribute('data-node'),
      );
      return JSON.stringify(rows) === JSON.stringify(want);
    },
    names,
    { timeout: 10_000 },
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-e2e-'));
  const pki = await generateTestPki();
  caFile = path.join(dir, 'ca.crt');
  tokenFile = path.join(dir, 'token');
  await writeFile(caFile, pki.ca.cert);
  await writeFile(tokenFile, `${TOKEN}\n`);
  agg = await startFleetAggregator({
    tls: pki.server,
    authenticator: new SharedTokenAuthenticator({ file: tokenFile }),
  });
  await Promise.all([
    report('ubuntu2204-gpu-pass', 'gpu-a'),
    report('gpu-old-driver', 'gpu-b'),
    report('jetson-jp62', 'jetson-a'),
    report('control-plane', 'cp-a'),
  ]);
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await agg?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the dashboard in Chromium', () => {
  it('lists the reported nodes with verdicts, failing checks and versions', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${agg.url}/dashboard/?poll=300#/?sort=name`);
    await waitForRows(page, ['cp-a', 'gpu-a', 'gpu-b', 'jetson-a']);
    expect(await cell(page, 'gpu-b', 'verdict').textContent()).toContain('fail');
    expect(await cell(page, 'gpu-b', 'failing').textContent()).toContain('gpu.driver');
    expect(await cell(page, 'gpu-b', 'driver').textContent()).toBe('535.54.03');
    expect(await cell(page, 'gpu-a', 'failing').textContent()).toBe('—');
    expect(await cell(page, 'jetson-a', 'jetpack').textContent()).toBe('6.2');
    expect(await cell(page, 'gpu-a', 'role').textContent()).toBe('gpu');
    expect(await page.locator('#match-count').textContent()).toBe('4 of 4 nodes');
    // The tiles: role × verdict counts and the spec in force.
    expect(await page.locator('#tile-roles').textContent()).toMatch(/gpu/);
    expect(await page.locator('#tile-spec').textContent()).toContain('osmo-onprem-baseline');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-e2e.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('filters by role, verdict, check and text, sorts, and keeps every filter in the URL', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${agg.url}/dashboard/?poll=300#/?sort=name`);
    await waitForRows(page, ['cp-a', 'gpu-a', 'gpu-b', 'jetson-a']);

    await page.selectOption('#f-role', 'gpu');
    await waitForRows(page, ['gpu-a', 'gpu-b']);
    expect(new URL(page.url()).hash).toBe('#/?role=gpu&sort=name');
    await page.selectOption('#f-verdict', 'fail');
    await waitForRows(page, ['gpu-b']);
    expect(new URL(page.url()).hash).toContain('verdict=fail');

    // A deep link restores the filters, also in the form.
    await page.goto(`${agg.url}/dashboard/?poll=300#/?check=gpu.driver`);
    await waitForRows(page, ['gpu-b']);
    // Only the hash changed (no reload) and gpu-b was already the one row: wait until the form shows the
    // link's filter rather than read it before the hash change is applied (a race under load).
    await page
      .waitForFunction(`document.querySelector('#f-check')?.value === 'gpu.driver'`, null, { timeout: 5000 })
      .catch(() => {});
    expect(await page.locator('#f-check').inputValue()).toBe('gpu.driver');
    await page.goto(`${agg.url}/dashboard/?poll=300#/?q=jetson`);
    await waitForRows(page, ['jetson-a']);
    expect(await page.locator('#f-q').inputValue()).toBe('jetson');
    await page.fill('#f-q', '535.54');
    await waitForRows(page, ['gpu-b']);
    expect(new URL(page.url()).hash).toBe('#/?q=535.54');

    // Sorting: by name, then the other way round.
    await page.click('a.reset');
    await page.click('th button[data-sort="name"]');
    await waitForRows(page, ['cp-a', 'gpu-a', 'gpu-b', 'jetson-a']);
    await page.click('th button[data-sort="name"]');
    await waitForRows(page, ['jetson-a', 'gpu-b', 'gpu-a', 'cp-a']);
    expect(new URL(page.url()).hash).toBe('#/?sort=name&dir=desc');
    expect(await rowNames(page)).toHaveLength(4);
    await page.close();
  }, 60_000);

  it('shows a node page and a check page', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${agg.url}/dashboard/?poll=300`);
    await page.locator('table.nodes tbody tr[data-node="gpu-b"] a').first().click();
    const driver = page.locator('#node-checks tr[data-check="gpu.driver"]');
    await driver.waitFor({ timeout: 10_000 });
    expect(new URL(page.url()).hash).toBe('#/node/gpu-b');
    const cells = await driver.locator('td').allTextContents();
    expect(cells[0]).toContain('fail');
    expect(cells[2]).toBe('535.54.03');
    expect(cells[4]).not.toBe('');
    expect(await page.locator('#node-history li').first().textContent()).toContain('fail');
    expect(await page.locator('#node-facts pre').textContent()).toContain('"driverVersion": "535.54.03"');
    expect(await page.locator('#node-written').textContent()).toContain('Standalone');

    await page.locator('#node-checks tr[data-check="gpu.driver"] a').click();
    await page.locator('#check-count').waitFor({ timeout: 10_000 });
    expect(await page.locator('#check-count').textContent()).toContain('1 node fail');
    expect(await page.locator('#check-groups h3').allTextContents()).toEqual([
      expect.stringContaining('1 node on 535.54.03'),
    ]);
    await page.close();
  }, 60_000);

  it('updates without a reload when a verdict changes', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${agg.url}/dashboard/?poll=300#/?sort=name`);
    await waitForRows(page, ['cp-a', 'gpu-a', 'gpu-b', 'jetson-a']);
    expect(await cell(page, 'gpu-a', 'verdict').textContent()).not.toContain('fail');
    // A mark on this document: a reload would drop it.
    await page.evaluate('window.sameDocument = true');
    // gpu-a's agent now sees an old driver.
    await report('gpu-old-driver', 'gpu-a');
    await page.waitForFunction(
      () => {
        const { document } = globalThis as unknown as PageDom;
        const verdict = document.querySelector('tr[data-node="gpu-a"] td[data-col="verdict"]');
        return verdict?.textContent?.includes('fail') === true;
      },
      undefined,
      { timeout: 10_000 },
    );
    expect(await cell(page, 'gpu-a', 'failing').textContent()).toContain('gpu.driver');
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    await page.close();
  }, 60_000);

  it('asks for a token when the API answers 401 and sends it as a bearer token', async () => {
    const page = await browser.context.newPage();
    const seen: Array<string | undefined> = [];
    // Stands in for read authorization on GET /api/v1/*: only "Bearer let-me-read" passes.
    await page.route('**/api/v1/**', async (route) => {
      const authorization = route.request().headers()['authorization'];
      seen.push(authorization);
      if (authorization === 'Bearer let-me-read') return route.continue();
      return route.fulfill({
        status: 401,
        contentType: 'application/json',
        body: '{"statusCode":401,"error":"Unauthorized","message":"a token is required"}',
      });
    });
    await page.goto(`${agg.url}/dashboard/?poll=300`);
    await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('table.nodes').count()).toBe(0);
    await page.fill('#token-input', 'let-me-read');
    await page.click('#token-form button[type="submit"]');
    await page.locator('table.nodes tbody tr').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#token-form').isVisible()).toBe(false);
    expect(seen.at(-1)).toBe('Bearer let-me-read');
    expect(await page.evaluate(() => sessionStorage.getItem('osmo-node-validator.token'))).toBe(
      'let-me-read',
    );
    await page.close();
  }, 60_000);
});
