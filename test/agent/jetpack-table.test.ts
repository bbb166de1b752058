// The JetPack release is the spec's to tell, end to end: an agent on a Jetson fixture host reports its L4T
// release (no jetpackVersion), the aggregator's API shows the JetPack release from the spec in force, an
// edit of the spec file's table changes the node's verdict on reload with no new report, an older agent's
// own jetpackVersion is overruled, and `check` shows the release from the spec it is given.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentConfig, runAgent } from '../../agent/agent-command.js';
import { run as runCheck } from '../../agent/check-command.js';
import { collectFacts } from '../../agent/collect.js';
import { createHostContext } from '../../agent/host.js';
import { memoryLogger } from '../../agent/log.js';
import { OpenReads } from '../../aggregator/auth/read-access.js';
import { SharedTokenAuthenticator } from '../../aggregator/auth/shared-token.js';
import { buildApp } from '../../aggregator/server/app.js';
import { createSpecEvaluator } from '../../aggregator/server/spec-evaluator.js';
import { readSpecFile, SpecWatcher } from '../../aggregator/spec-watcher.js';
import { NodeStore } from '../../aggregator/store.js';
import type { NodeResult, Report } from '../../report/schema.js';
import { BUILTIN_SPEC_URL } from '../../spec/load.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { captureIo } from '../helpers/io.js';

const TOKEN = 'jetpack-table-token-0123456789';

let dir: string;
let tokenFile: string;
let specFile: string;
let baselineText: string;

/** The baseline with the JetPack release of L4T 36.4.3 (the jetson-jp62 fixture's) set to `jetpack`. */
const remapped = (jetpack: string) =>
  baselineText.replace(/^ {2}"36\.4\.3": .*$/m, `  "36.4.3": "${jetpack}"`);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'jetpack-table-'));
  tokenFile = path.join(dir, 'token');
  specFile = path.join(dir, 'spec.yaml');
  baselineText = await readFile(fileURLToPath(BUILTIN_SPEC_URL), 'utf8');
  await writeFile(tokenFile, `${TOKEN}\n`);
  await writeFile(specFile, baselineText);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fixtureCollect = (config: AgentConfig) =>
  collectFacts(createHostContext({ root: config.hostRoot, execMode: config.execMode, path: '' }), {
    registries: config.registries,
    registryTimeoutMs: 1000,
  });

function jetpack(result: NodeResult) {
  return {
    jetpackVersion: result.facts.jetson?.jetpackVersion,
    check: result.checks.find((c) => c.id === 'jetson.jetpack'),
    verdict: result.verdict,
  };
}

describe('the aggregator applies the table of its spec', () => {
  it('an agent reports L4T 36.4.3; a table edit moves the node from pass to fail with no new report', async () => {
    const { spec, hash } = await readSpecFile(specFile);
    const evaluator = createSpecEvaluator(spec);
    const store = new NodeStore({ staleAfterMs: 15 * 60_000 });
    const { app } = await buildApp({
      evaluator,
      authenticator: new SharedTokenAuthenticator({ file: tokenFile }),
      readAccess: new OpenReads(),
      store,
    });
    const quiet = () => {};
    const logger = { info: quiet, warn: quiet, error: quiet, debug: quiet };
    const watcher = new SpecWatcher({
      file: specFile,
      initialHash: hash,
      evaluator,
      store,
      intervalMs: 60_000,
      logger,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const detail = async (node: string) =>
      (await app.inject({ method: 'GET', url: `/api/v1/nodes/${node}` })).json() as NodeResult;
    try {
      const code = await runAgent(
        [
          '--aggregator',
          url,
          '--once',
          '--token-file',
          tokenFile,
          '--host-root',
          fixtureHostPath('jetson-jp62'),
          '--registries',
          'none',
          '--node-name',
          'orin-1',
        ],
        {
          env: {},
          collect: fixtureCollect,
          log: memoryLogger(),
          stdout: () => {},
          stderr: () => {},
          handleSignals: false,
        },
      );
      expect(code).toBe(0);
      const stored = store.latest('orin-1');
      expect(stored?.report.facts.jetson?.l4tVersion).toBe('36.4.3');
      expect(stored?.report.facts.jetson).not.toHaveProperty('jetpackVersion');

      const before = await detail('orin-1');
      expect(jetpack(before)).toMatchObject({
        jetpackVersion: '6.2',
        check: { status: 'pass', observed: '6.2' },
      });
      expect(before.verdict).not.toBe('fail');

      await writeFile(specFile, remapped('6.1'));
      expect(await watcher.reload()).toMatchObject({ status: 'applied', evaluated: 1 });
      const after = await detail('orin-1');
      expect(jetpack(after)).toEqual({
        jetpackVersion: '6.1',
        check: expect.objectContaining({ status: 'fail', observed: '6.1' }),
        verdict: 'fail',
      });
      // The same report: only the spec changed.
      expect(store.latest('orin-1')?.report).toBe(stored?.report);
      expect(after.collectedAt).toBe(before.collectedAt);

      // An older agent still sends its own jetpackVersion: the table in force wins.
      const old: Report = { ...(stored?.report as Report), node: 'orin-2' };
      old.facts = {
        ...old.facts,
        jetson: { ...(old.facts.jetson as NonNullable<Report['facts']['jetson']>), jetpackVersion: '6.2' },
      };
      const posted = await app.inject({
        method: 'POST',
        url: '/api/v1/reports',
        headers: { authorization: `Bearer ${TOKEN}` },
        payload: old,
      });
      expect(posted.statusCode).toBe(202);
      expect(jetpack(await detail('orin-2'))).toMatchObject({ jetpackVersion: '6.1', verdict: 'fail' });
    } finally {
      await app.close();
    }
  });
});

describe('check evaluates with the same table', () => {
  it('check --json shows the JetPack release of the spec it is given', async () => {
    const check = async (extra: string[]) => {
      const io = captureIo();
      const code = await runCheck(
        ['--host-root', fixtureHostPath('jetson-jp62'), '--registries', 'none', '--json', ...extra],
        io,
      );
      return { code, result: JSON.parse(io.out()) as NodeResult };
    };
    const builtin = await check([]);
    expect(jetpack(builtin.result)).toMatchObject({ jetpackVersion: '6.2', check: { status: 'pass' } });

    const edited = path.join(dir, 'check-spec.yaml');
    await writeFile(edited, remapped('6.1'));
    const withEdit = await check(['--spec', edited]);
    expect(withEdit.code).toBe(1);
    expect(jetpack(withEdit.result)).toMatchObject({
      jetpackVersion: '6.1',
      check: { status: 'fail', observed: '6.1' },
      verdict: 'fail',
    });
  });
});
