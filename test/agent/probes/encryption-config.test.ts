// EncryptionConfiguration read as the API server reads it: every resources[] entry, the first provider
// of the first entry naming a resource writes it, wildcards after exact names; unknown is never a pass.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import {
  findEncryptionConfigFlag,
  KUBE_APISERVER_MANIFEST,
} from '../../../agent/probes/api-server-encryption.js';
import {
  type EncryptionAtRestResult,
  parseEncryptionAtRest,
  readEncryptionAtRest,
} from '../../../agent/probes/encryption-config.js';
import { fixtureHostContext } from '../../helpers/fixture-host.js';

const HEAD = 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n';
// A 32-byte key, base64 (all zero bytes): the shape the docs use.
const KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function known(r: EncryptionAtRestResult) {
  if (!r.known) throw new Error(`expected a known result, got: ${r.reason}`);
  return r.value;
}

describe('parseEncryptionAtRest', () => {
  it("the Kubernetes reference's example: events stay plain text, secrets are aescbc", async () => {
    // kubernetes.io/docs/reference/config-api/apiserver-encryption.v1/ (keys replaced by a zero key).
    const text = `${HEAD}resources:
  - resources:
      - events
    providers:
      - identity: {} # do not encrypt events even though *.* is specified below
  - resources:
      - secrets
      - configmaps
      - pandas.awesome.bears.example
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ${KEY}
  - resources:
      - '*.apps'
    providers:
      - aescbc:
          keys:
            - name: key2
              secret: ${KEY}
  - resources:
      - '*.*'
    providers:
      - aescbc:
          keys:
            - name: key3
              secret: ${KEY}
`;
    const r = known(await parseEncryptionAtRest(text));
    expect(r.rules).toEqual([
      { resources: ['events'], provider: 'identity' },
      { resources: ['secrets', 'configmaps', 'pandas.awesome.bears.example'], provider: 'aescbc' },
      { resources: ['*.apps'], provider: 'aescbc' },
      { resources: ['*.*'], provider: 'aescbc' },
    ]);
    expect(r.secrets).toEqual({ provider: 'aescbc', matchedBy: 'secrets', rule: 1 });
    expect(r.secretsEncrypted).toBe(true);
    expect(r.encrypted).toEqual([
      { resource: 'secrets', provider: 'aescbc' },
      { resource: 'configmaps', provider: 'aescbc' },
      { resource: 'pandas.awesome.bears.example', provider: 'aescbc' },
      { resource: '*.apps', provider: 'aescbc' },
      { resource: '*.*', provider: 'aescbc' },
    ]);
  });

  it('events encrypted, secrets identity → secrets NOT encrypted (the first entry is not the answer)', async () => {
    const text = `${HEAD}resources:
  - resources: [events]
    providers:
      - aescbc:
          keys: [{ name: key1, secret: ${KEY} }]
  - resources: [secrets]
    providers:
      - identity: {}
      - aescbc:
          keys: [{ name: key1, secret: ${KEY} }]
`;
    const r = known(await parseEncryptionAtRest(text));
    expect(r.secrets).toEqual({ provider: 'identity', matchedBy: 'secrets', rule: 1 });
    expect(r.secretsEncrypted).toBe(false);
    expect(r.encrypted).toEqual([{ resource: 'events', provider: 'aescbc' }]);
  });

  it('identity first then aescbc (the migration step: reads decrypt, writes are plain) → not encrypted', async () => {
    const text = `${HEAD}resources:
  - resources: [secrets]
    providers:
      - identity: {}
      - aescbc:
          keys: [{ name: key1, secret: ${KEY} }]
`;
    expect(known(await parseEncryptionAtRest(text)).secretsEncrypted).toBe(false);
  });

  it('secrets named only by a wildcard: the core group *. first, then *.*', async () => {
    const core = `${HEAD}resources:
  - resources: ['*.']
    providers:
      - secretbox:
          keys: [{ name: k, secret: ${KEY} }]
  - resources: ['*.*']
    providers:
      - identity: {}
`;
    expect(known(await parseEncryptionAtRest(core)).secrets).toEqual({
      provider: 'secretbox',
      matchedBy: '*.',
      rule: 0,
    });
    const all = `${HEAD}resources:
  - resources: ['*.*']
    providers:
      - kms:
          apiVersion: v2
          name: vault
          endpoint: unix:///var/run/kms/vault.sock
      - identity: {}
`;
    expect(known(await parseEncryptionAtRest(all))).toMatchObject({
      secrets: { provider: 'kms', matchedBy: '*.*', rule: 0 },
      secretsEncrypted: true,
    });
  });

  it('an exact name before a wildcard wins over it ("secrets." is the same name)', async () => {
    const text = `${HEAD}resources:
  - resources: ['secrets.']
    providers:
      - identity: {}
  - resources: ['*.*']
    providers:
      - aesgcm:
          keys: [{ name: k, secret: ${KEY} }]
`;
    expect(known(await parseEncryptionAtRest(text))).toMatchObject({
      secrets: { provider: 'identity', matchedBy: 'secrets.', rule: 0 },
      secretsEncrypted: false,
      encrypted: [{ resource: '*.*', provider: 'aesgcm' }],
    });
  });

  it('the same name in two entries: the first one writes', async () => {
    const text = `${HEAD}resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys: [{ name: k, secret: ${KEY} }]
  - resources: [secrets]
    providers:
      - identity: {}
`;
    expect(known(await parseEncryptionAtRest(text)).secrets).toEqual({
      provider: 'aesgcm',
      matchedBy: 'secrets',
      rule: 0,
    });
  });

  it('no entry covers secrets → stored as plain text', async () => {
    const text = `${HEAD}resources:
  - resources: [configmaps]
    providers:
      - aescbc:
          keys: [{ name: k, secret: ${KEY} }]
`;
    expect(known(await parseEncryptionAtRest(text))).toMatchObject({
      secrets: null,
      secretsEncrypted: false,
    });
  });

  describe('not understood → unknown with the reason, never a pass', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['not YAML', `${HEAD}resources: [\n`, /^not YAML: /],
      [
        'another kind',
        'apiVersion: v1\nkind: ConfigMap\n',
        /not an EncryptionConfiguration \(kind "ConfigMap"\)/,
      ],
      ['no resources', `${HEAD}resources: []\n`, /no resources\[\] entries/],
      [
        'an entry without providers',
        `${HEAD}resources:\n  - resources: [secrets]\n`,
        /resources\[0\] has no providers/,
      ],
      [
        'a provider element naming two providers',
        `${HEAD}resources:\n  - resources: [secrets]\n    providers:\n      - identity: {}\n        aescbc: {keys: []}\n`,
        /must name exactly one of aescbc, aesgcm, secretbox, kms, identity/,
      ],
      [
        'an unknown provider',
        `${HEAD}resources:\n  - resources: [secrets]\n    providers:\n      - rot13: {}\n`,
        /\(has \["rot13"\]\)/,
      ],
      [
        'a name masked by an earlier wildcard (kube-apiserver refuses the file)',
        `${HEAD}resources:\n  - resources: ['*.']\n    providers:\n      - identity: {}\n  - resources: [secrets]\n    providers:\n      - aescbc: {keys: [{name: k, secret: ${KEY}}]}\n`,
        /resource "secrets" is masked by earlier rule "\*\."/,
      ],
      [
        'resources that are not names',
        `${HEAD}resources:\n  - resources: [{secrets: 1}]\n    providers:\n      - identity: {}\n`,
        /resources\[0\]\.resources is not a list of resource names/,
      ],
    ];
    for (const [what, text, reason] of cases) {
      it(what, async () => {
        const r = await parseEncryptionAtRest(text);
        expect(r.known).toBe(false);
        expect(!r.known && r.reason).toMatch(reason);
      });
    }
  });
});

describe('readEncryptionAtRest (under the host root)', () => {
  const temps: string[] = [];
  afterAll(async () => {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });

  it('reads the file the flag names; a missing one is unknown, naming it', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-enc-'));
    temps.push(root);
    const host = createHostContext({ root, execMode: 'local', path: '' });
    expect(await readEncryptionAtRest(host, '/etc/kubernetes/enc/enc.yaml')).toEqual({
      known: false,
      reason: 'cannot read /etc/kubernetes/enc/enc.yaml: ENOENT',
    });
    await writeFile(path.join(root, 'enc.yaml'), `${HEAD}resources: []\n`);
    expect(await readEncryptionAtRest(host, '/enc.yaml')).toEqual({
      known: false,
      reason: '/enc.yaml: no resources[] entries',
    });
  });

  it('the control-plane fixture host: secrets aescbc', async () => {
    const host = fixtureHostContext('control-plane');
    const flag = findEncryptionConfigFlag(await host.readFile(KUBE_APISERVER_MANIFEST));
    expect(flag).toBe('/etc/kubernetes/enc/encryption-config.yaml');
    expect(known(await readEncryptionAtRest(host, flag!))).toMatchObject({
      secrets: { provider: 'aescbc', matchedBy: 'secrets' },
      secretsEncrypted: true,
    });
  });
});
