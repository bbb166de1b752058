// Names are resolved as the host resolves them, or not at all: never with this machine's resolver when
// this machine is not the host.
import { describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import { dnsProbe } from '../../../agent/probes/dns.js';
import { resolveAsHost } from '../../../agent/probes/host-resolve.js';
import type { ProbeOptions } from '../../../agent/probes/probe.js';
import { fixtureHostPath } from '../../helpers/fixture-host.js';

const OPTIONS = {} as ProbeOptions; // the dns probe reads no options
const signal = () => new AbortController().signal;

describe('resolveAsHost', () => {
  it("local mode, root other than /, with this machine's PATH: unknown unless getent is under the root", async () => {
    const bare = createHostContext({ root: fixtureHostPath('bare'), execMode: 'local' });
    const r = await resolveAsHost(bare, 'localhost', 2000, signal());
    expect(r.kind).toBe('unknown');
    const facts = await dnsProbe.run(bare, OPTIONS, signal());
    expect(facts.hostnameResolves).toBeNull();
  });

  it("the host's own getent (a fixture's fake under the root) answers", async () => {
    const host = createHostContext({ root: fixtureHostPath('registry-client'), execMode: 'local' });
    expect(await resolveAsHost(host, 'registry.test', 2000, signal())).toEqual({
      kind: 'resolved',
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
    expect(await resolveAsHost(host, 'nowhere.test', 2000, signal())).toEqual({ kind: 'not-found' });
    // The bound is the whole lookup; past it the name does not resolve.
    const started = performance.now();
    expect(await resolveAsHost(host, 'hang.test', 200, signal())).toEqual({ kind: 'timeout' });
    expect(performance.now() - started).toBeLessThan(2000);
    const gpu = createHostContext({ root: fixtureHostPath('ubuntu2204-gpu-pass'), execMode: 'local' });
    expect((await dnsProbe.run(gpu, OPTIONS, signal())).hostnameResolves).toBe(true);
  });
});
