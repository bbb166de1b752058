// The first module the CLI evaluates (cli/main.ts imports it before anything else): on a Node.js older
// than 24 it says so and exits 2, instead of the SyntaxError or missing-export error that loading the
// commands would end in. It uses only syntax and APIs every Node.js with ES modules has (no `?.`, `??`,
// no imports), so it runs wherever the entry point can be parsed at all.

export const MINIMUM_NODE_MAJOR = 24;

/** The message for a Node.js version (`process.versions.node`) that is too old or unreadable; null when fine. */
export function nodeVersionProblem(version: string, execPath: string): string | null {
  const major = Number(String(version).split('.')[0]);
  if (Number.isInteger(major) && major >= MINIMUM_NODE_MAJOR) return null;
  return (
    'osmo-node-validator needs Node.js ' +
    MINIMUM_NODE_MAJOR +
    ' or newer; this is Node.js ' +
    version +
    ' (' +
    execPath +
    ')'
  );
}

const problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem !== null) {
  process.stderr.write(problem + '\n');
  process.exit(2);
}
