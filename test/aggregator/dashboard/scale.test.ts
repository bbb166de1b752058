// The dashboard at 5,000 nodes: the page shows one page of rows, counts every node, pages, filters and
// sorts. How long each render took (the page's own `onv-render` measures), the API body's size and what
// the dashboard's files hold in the aggregator's memory are written to test/artifacts/dashboard-5000.json:
// a measurement to read, not a timing assertion.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDashboardAssets } from '../../../aggregator/server/routes/dashboard.js';
import { type Browser, launchChromium } from '../../../testing/dashboard/browser.js';
import { addFleet, type FleetAggregator, startFleetAggregator } from '../../../testing/dashboard/fleet.js';

const NODES = 5000;
const HOSTS = ['ubuntu2204-gpu-pass', 'gpu-old-driver', 'jetson-jp62', 'containerd-2x', 'control-plane'];

let agg: FleetAggregator;
let browser: Browser;

beforeAll(async () => {
  agg = await startFleetAggregator();
  await addFleet(agg, HOSTS, NODES);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await agg?.close();
});

/** The durations (ms) of the page's renders so far. */
const renders = (page: Page) =>
  page.evaluate(() =>
    performance.getEntriesByName('onv-render').map((e) => Math.round(e.duration * 10) / 10),
  );

async function waitForCount(page: Page, text: string): Promise<void> {
  await page.locator('#match-count', { hasText: text }).waitFor({ timeout: 20_000 });
}

describe(`the dashboard with ${NODES} nodes`, () => {
  it('renders one page of rows, pages, filters and sorts; timings go to the artefact', async () => {
    const page = await browser.context.newPage();
    const started = Date.now();
    await page.goto(`${agg.url}/dashboard/?poll=60000`);
    await waitForCount(page, `${NODES} of ${NODES} nodes`);
    const firstTableMs = Date.now() - started;
    expect(await page.locator('table.nodes tbody tr').count()).toBe(100);
    expect(await page.locator('#page-of').textContent()).toBe(`page 1 of ${NODES / 100}`);

    await page.click('#pager button:has-text("Next")');
    await page.locator('#page-of', { hasText: 'page 2 of' }).waitFor();
    await page.selectOption('#f-role', 'jetson');
    await waitForCount(page, `${NODES / HOSTS.length} of ${NODES} nodes`);
    await page.fill('#f-q', '0042');
    await waitForCount(page, `1 of ${NODES} nodes`);
    await page.click('a.reset');
    await waitForCount(page, `${NODES} of ${NODES} nodes`);
    await page.click('th button[data-sort="driver"]');
    await page.locator('th[aria-sort="ascending"] button[data-sort="driver"]').waitFor();
    await page.selectOption('#f-size', '500');
    await page.locator('#page-of', { hasText: `page 1 of ${NODES / 500}` }).waitFor();
    expect(await page.locator('table.nodes tbody tr').count()).toBe(500);
    const durations = await renders(page);
    expect(durations.length).toBeGreaterThanOrEqual(6);

    const list = await fetch(`${agg.url}/api/v1/nodes`);
    const body = await list.text();
    const assets = [...loadDashboardAssets().values()].reduce((n, a) => n + a.body.length, 0);
    const artefact = {
      nodes: NODES,
      firstTableMs,
      renderMs: {
        steps: ['first', 'page 2', 'role=jetson', 'search', 'clear', 'sort driver', '500 rows'],
        durations,
      },
      apiNodesBodyBytes: Buffer.byteLength(body),
      dashboardAssetBytes: assets,
      note: 'renderMs: filter, sort and DOM build of the table page (performance.measure in the page)',
    };
    const dir = path.resolve('test/artifacts');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'dashboard-5000.json'), `${JSON.stringify(artefact, null, 2)}\n`);
    await page.close();
  }, 120_000);
});
