// A flood of forged JWT-shaped tokens must not starve genuine agents: the `aggregator` command, started as
// it is shipped (TokenReview against the API emulator, default TokenReview budget), receives 2,000
// forged tokens over loopback HTTP with 40 agents' first reports (fresh, uncached tokens) spread through
// the flood. Every genuine report is accepted, every forged one is 401, and no forged token costs an API
// call. (Before local verification, the forged tokens used up the shared TokenReview budget and most of
// the genuine reports got 503.) The second test is the same starvation without timing: the TokenReview
// budget's clock is frozen, so only what forged tokens take from it decides.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../aggregator/aggregator-command.js';
import {
  DEFAULT_TOKEN_REVIEW_BURST,
  DEFAULT_TOKEN_REVIEW_QPS,
  TokenReviewAuthenticator,
  tokenReviewApisFrom,
} from '../../../aggregator/auth/token-review.js';
import { TokenBucket } from '../../../aggregator/k8s/rate-limit.js';
import { type K8sEmulator, makeNode, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';
import { type FloodJob, flood, forgeLike } from '../../helpers/report-flood.js';
import { makeApp, postReport, sampleReport } from '../harness.js';

const SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
const AUD = 'osmo-node-validator';
const FORGED = 2000;
const GENUINE = 40;
const WORKERS = 24;

let emu: K8sEmulator;
let dir: string;
beforeAll(async () => {
  emu = await startK8sEmulator();
  dir = mkdtempSync(join(tmpdir(), 'onv-flood-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The forged flood with the genuine agents' first reports spread evenly from the 200th request on. */
function jobs(genuine: Array<{ node: string; token: string }>): FloodJob[] {
  const out: FloodJob[] = [];
  const forgedBody = JSON.stringify(sampleReport('victim'));
  const every = Math.floor((FORGED - 200) / GENUINE);
  let g = 0;
  for (let i = 0; i < FORGED; i++) {
    if (i >= 200 && (i - 200) % every === 0 && g < genuine.length) {
      const agent = genuine[g++]!;
      out.push({ token: agent.token, body: JSON.stringify(sampleReport(agent.node)), genuine: true });
    }
    out.push({ token: forgeLike(genuine[0]!.token, i), body: forgedBody, genuine: false });
  }
  return out;
}

describe('forged-token flood (the aggregator command, loopback HTTP)', () => {
  it('every genuine agent is accepted during the flood; forged tokens cost no TokenReview', async () => {
    const agents = Array.from({ length: GENUINE }, (_, i) => ({ node: `flood-${i}` }));
    for (const a of agents) emu.nodes.put(makeNode(a.node));
    const genuine = agents.map((a) => ({
      node: a.node,
      token: emu.tokens.issue({ serviceAccount: SA, audiences: [AUD], nodeName: a.node }),
    }));
    const kubeconfig = await emu.writeKubeconfigFile(dir);
    const stop = new AbortController();
    let failure: unknown;
    let statuses: number[] = [];
    let list: FloodJob[] = [];
    let durationMs = 0;
    let log = '';
    const code = await run(
      ['--insecure-http', '--listen', '127.0.0.1:0', '--kubeconfig', kubeconfig, '--dry-run'],
      {
        env: {},
        signal: stop.signal,
        stderr: () => {},
        logStream: new Writable({
          write: (chunk, _e, cb) => {
            if (!log.includes('aggregator listening')) log += String(chunk);
            cb();
          },
        }),
        onListening: (url) => {
          const body = async () => {
            for (let i = 0; i < 100 && (await fetch(`${url}/readyz`)).status !== 200; i++) {
              await new Promise((r) => setTimeout(r, 50));
            }
            emu.tokens.reviews.length = 0;
            list = jobs(genuine);
            ({ statuses, durationMs } = await flood(url, list, WORKERS));
          };
          body().then(
            () => stop.abort(),
            (err: unknown) => {
              failure = err;
              stop.abort();
            },
          );
        },
      },
    );
    if (failure) throw failure;
    expect(code).toBe(0);
    const count = (genuineJobs: boolean, status: number) =>
      list.filter((j, i) => j.genuine === genuineJobs && statuses[i] === status).length;
    const genuineStatuses = list.flatMap((j, i) => (j.genuine ? [statuses[i]] : []));
    console.log(
      `forged-token flood: ${FORGED} forged in ${Math.round(durationMs)} ms ` +
        `(${Math.round((FORGED / durationMs) * 1000)} req/s), genuine accepted ${count(true, 202)}/${GENUINE}, ` +
        `TokenReviews ${emu.tokens.reviews.length}`,
    );
    expect(genuineStatuses).toEqual(new Array(GENUINE).fill(202));
    expect(count(false, 401)).toBe(FORGED);
    // Only the genuine tokens were reviewed (revocation check), each once.
    expect(emu.tokens.reviews.length).toBe(GENUINE);
    expect(emu.tokens.reviews.every((r) => genuine.some((g) => g.token === r.token))).toBe(true);
    // The command's wiring, unchanged, picked up local verification.
    expect(log).toMatch(
      /"auth":"TokenReview \(audience osmo-node-validator, [^"]*, after local verification/,
    );
  }, 60_000);

  it('with the shared TokenReview budget frozen: forged tokens take nothing from it', async () => {
    const frozen = { now: () => 0, sleep: async () => {} };
    // As the aggregator command builds it, but the budget never refills.
    const authenticator = new TokenReviewAuthenticator({
      ...(await tokenReviewApisFrom(emu.kubeConfig())),
      audience: AUD,
      serviceAccount: SA,
      jwtOnly: true,
      limiter: new TokenBucket(DEFAULT_TOKEN_REVIEW_QPS, DEFAULT_TOKEN_REVIEW_BURST, frozen),
    });
    const t = await makeApp({ authenticator });
    try {
      const genuine = Array.from({ length: GENUINE }, (_, i) => ({
        node: `frozen-${i}`,
        token: emu.tokens.issue({ serviceAccount: SA, audiences: [AUD], nodeName: `frozen-${i}` }),
      }));
      const post = (token: string, node: string) =>
        postReport(t.app, sampleReport(node), { authorization: `Bearer ${token}` });
      const forged = [];
      for (let i = 0; i < 2 * DEFAULT_TOKEN_REVIEW_BURST; i++) {
        forged.push((await post(forgeLike(genuine[0]!.token, i), 'victim')).statusCode);
      }
      const accepted = [];
      for (const g of genuine) accepted.push((await post(g.token, g.node)).statusCode);
      expect(accepted).toEqual(new Array(GENUINE).fill(202));
      expect(forged).toEqual(new Array(2 * DEFAULT_TOKEN_REVIEW_BURST).fill(401));
    } finally {
      await t.app.close();
    }
  });
});
