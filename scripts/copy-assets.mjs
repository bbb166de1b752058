// Copies the non-TypeScript assets the built program reads at run time (the baseline spec and data
// tables, the dashboard's static files) next to the compiled modules, so dist/ is self-contained.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';

for (const dir of ['spec']) {
  mkdirSync(`dist/${dir}`, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.yaml')) cpSync(`${dir}/${name}`, `dist/${dir}/${name}`);
  }
}

mkdirSync('dist/aggregator/dashboard', { recursive: true });
for (const name of readdirSync('aggregator/dashboard')) {
  if (/\.(html|js|css)$/.test(name))
    cpSync(`aggregator/dashboard/${name}`, `dist/aggregator/dashboard/${name}`);
}
