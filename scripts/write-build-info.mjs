// Writes dist/build-info.json: the git revision the build was made from, which `version`, `--version` and
// the aggregator's build_info metric report (report/version.ts reads it; nothing runs git at run time).
// The revision is GIT_REVISION when set (the Dockerfile's build argument: the build context has no .git),
// else `git rev-parse HEAD` of the checkout, else "unknown". A checkout with uncommitted changes to tracked
// files gets "-dirty" appended.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const REVISION = /^[0-9a-f]{7,40}(-dirty)?$/;

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined; // no git, or not a checkout
  }
}

function revision() {
  const given = process.env.GIT_REVISION?.trim();
  if (given) {
    if (!REVISION.test(given)) {
      console.error(`write-build-info: GIT_REVISION must be a hex commit id, got ${JSON.stringify(given)}`);
      process.exit(2);
    }
    return given;
  }
  const head = git(['rev-parse', 'HEAD']);
  if (!head || !REVISION.test(head)) return 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return dirty ? `${head}-dirty` : head;
}

mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', `${JSON.stringify({ revision: revision() })}\n`);
