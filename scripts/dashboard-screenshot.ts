// Regenerates docs/dashboard.png, the README's picture of the dashboard: an aggregator on 127.0.0.1 with a
// fleet made of the fixture hosts' reports (the real collector and the built-in baseline), the page in
// headless Chromium (Debian's `chromium`, CHROMIUM_PATH overrides), one screenshot of the fleet view and
// one of a node page. Run: npx tsx scripts/dashboard-screenshot.ts [out-dir]
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { launchChromium } from '../testing/dashboard/browser.js';
import { addFleet, startFleetAggregator } from '../testing/dashboard/fleet.js';

const HOSTS = [
  'ubuntu2204-gpu-pass',
  'ubuntu2204-gpu-pass',
  'gpu-old-driver',
  'jetson-jp62',
  'jetson-jp60',
  'containerd-2x',
  'control-plane',
  'operator-small-memory',
  'gpu-535-216-cuda-caveat',
];

async function main(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const agg = await startFleetAggregator();
  const browser = await launchChromium({ viewport: { width: 1440, height: 1000 } });
  try {
    await addFleet(agg, HOSTS, 48, {
      name: (host, i) => `${host.split('-')[0]}-${String(i + 1).padStart(2, '0')}`,
    });
    const page = await browser.context.newPage();
    await page.goto(`${agg.url}/dashboard/`);
    await page.locator('table.nodes tbody tr').first().waitFor();
    await page.screenshot({ path: path.join(outDir, 'dashboard.png') });
    const failing = await page.locator('table.nodes tbody tr.v-fail a').first().textContent();
    await page.goto(`${agg.url}/dashboard/#/node/${failing}`);
    await page.locator('#node-checks tbody tr').first().waitFor();
    await page.screenshot({ path: path.join(outDir, 'dashboard-node.png') });
    console.log(`wrote ${path.join(outDir, 'dashboard.png')} and dashboard-node.png`);
  } finally {
    await browser.close();
    await agg.close();
  }
}

await main(process.argv[2] ?? 'docs');
