// The shared agent token (--token-file) fails closed: while its file is empty, deleted or unreadable every
// report is refused with 503 + Retry-After (agents retry), and each change is reported once.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SharedTokenAuthenticator,
  TOKEN_FILE_RETRY_AFTER_SECONDS,
} from '../../../aggregator/auth/shared-token.js';
import { auth, makeApp, postReport, sampleReport, type TestApp, TOKEN, tokenFile } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

describe('shared token file (--token-file)', () => {
  it('refuses every report with 503 while the file is emptied, deleted or a directory; accepts again once restored; one change line each way', async () => {
    const file = tokenFile();
    const changes: Array<string | null> = [];
    const authenticator = new SharedTokenAuthenticator({
      file,
      recheckMs: 0,
      onChange: (problem) => changes.push(problem),
    });
    t = await makeApp({ authenticator });
    const app = t.app;
    const report = async (token = TOKEN) => postReport(app, sampleReport('node-a'), auth(token));
    expect((await report()).statusCode).toBe(202);

    const breakages: Array<[string, () => void, RegExp]> = [
      ['emptied', () => writeFileSync(file, '\n'), /is empty/],
      ['deleted', () => rmSync(file), /ENOENT/],
      // Tests run as root, so chmod 000 would not stop the read: a directory in its place does.
      [
        'replaced by a directory',
        () => {
          rmSync(file);
          mkdirSync(file);
        },
        /EISDIR/,
      ],
    ];
    for (const [what, breakIt, problem] of breakages) {
      breakIt();
      for (const token of [TOKEN, 'some-other-token']) {
        const res = await report(token);
        expect(res.statusCode, `${what}, ${token}`).toBe(503);
        expect(res.headers['retry-after']).toBe(String(TOKEN_FILE_RETRY_AFTER_SECONDS));
        expect(res.json().message).toMatch(/--token-file is empty, missing or unreadable/);
        // The path stays in the aggregator's log, not in answers to whoever asks.
        expect(res.json().message).not.toContain(file);
      }
      expect(changes.at(-1), what).toMatch(problem);
      rmSync(file, { recursive: true, force: true });
      writeFileSync(file, `${TOKEN}\n`);
      expect((await report()).statusCode, `${what}, restored`).toBe(202);
      expect((await report('some-other-token')).statusCode, `${what}, restored`).toBe(401);
      expect(changes.at(-1), `${what}, restored`).toBeNull();
    }
    // One line when the file turned unusable and one when it was usable again, per breakage: not per request.
    expect(changes.map((c) => c === null)).toEqual([false, true, false, true, false, true]);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^osmo_validator_reports_rejected_total\{reason="unavailable"\} 6$/m);
  });

  it('a missing bearer token is still 401 while the file is unusable', async () => {
    const file = tokenFile();
    t = await makeApp({ authenticator: new SharedTokenAuthenticator({ file, recheckMs: 0 }) });
    rmSync(file);
    expect((await postReport(t.app, sampleReport(), {})).statusCode).toBe(401);
  });

  it('refuses to start on an unusable file (the command exits 2 with the message)', () => {
    const file = tokenFile();
    writeFileSync(file, '   \n');
    expect(() => new SharedTokenAuthenticator({ file })).toThrow(/is empty/);
  });
});
