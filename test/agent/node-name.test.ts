import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { explicitNodeName, NodeNameError, resolveNodeName } from '../../agent/node-name.js';
import { isDnsSubdomain } from '../../report/grammars.js';
import { Report } from '../../report/schema.js';

const osHostname = () => 'OS-Host';

describe('resolveNodeName', () => {
  it('flag, then NODE_NAME, then the hostname fact, then os.hostname() on host root /; lowercased', () => {
    const all = { hostnameFact: 'fact', hostRoot: '/', osHostname };
    expect(resolveNodeName({ ...all, flag: 'Flag-Node', env: 'env-node' })).toBe('flag-node');
    expect(resolveNodeName({ ...all, env: ' ENV-Node ' })).toBe('env-node');
    expect(resolveNodeName({ ...all, env: '', hostnameFact: 'Fact-Host' })).toBe('fact-host');
    expect(resolveNodeName({ ...all, hostnameFact: null })).toBe('os-host');
  });

  it('never uses this machine’s name for another host root', () => {
    let asked = false;
    const sources = {
      hostnameFact: null,
      hostRoot: '/host',
      osHostname: () => {
        asked = true;
        return 'agent-pod';
      },
    };
    expect(() => resolveNodeName(sources)).toThrow(NodeNameError);
    expect(() => resolveNodeName({ ...sources, hostnameError: 'cannot read etc/hostname: EACCES' })).toThrow(
      /cannot tell the node name: no hostname found under \/host .*\(cannot read etc\/hostname: EACCES\); pass --node-name or set NODE_NAME/,
    );
    expect(asked).toBe(false);
  });

  it('an invalid value is an error naming its source, never skipped or replaced', () => {
    const base = { hostRoot: '/host', osHostname };
    expect(() => resolveNodeName({ ...base, flag: 'Bad_Name' })).toThrow(
      /^--node-name: "Bad_Name" is not a valid node name \(lowercase/,
    );
    expect(() => resolveNodeName({ ...base, flag: '' })).toThrow(/--node-name: empty/);
    expect(() => resolveNodeName({ ...base, env: 'a..b_' })).toThrow(/^NODE_NAME: "a..b_"/);
    expect(() => resolveNodeName({ ...base, hostnameFact: 'under_score' })).toThrow(
      /^the host's hostname \(read under \/host\): "under_score" is not a valid node name.*pass --node-name/,
    );
    expect(() =>
      resolveNodeName({ hostRoot: '/', hostnameFact: null, osHostname: () => 'my_laptop' }),
    ).toThrow(/^this machine's hostname \(os.hostname\(\)\): "my_laptop"/);
  });

  it('explicitNodeName: null when neither the flag nor NODE_NAME is set', () => {
    expect(explicitNodeName({})).toBeNull();
    expect(explicitNodeName({ env: '  ' })).toBeNull();
    expect(explicitNodeName({ env: 'N1' })).toBe('n1');
  });
});

describe('the node name rule (a DNS-1123 subdomain)', () => {
  // What the aggregator's request validation does with the report schema.
  const schemaAccepts = new Ajv().compile(Report.properties.node);

  it.each([
    ['a', true],
    ['node-1.example.com', true],
    ['0.1-2.x9', true],
    ['a'.repeat(253), true],
    [`${'a'.repeat(63)}.${'b'.repeat(189)}`, true],
    ['a'.repeat(254), false],
    ['-a', false],
    ['a-', false],
    ['a..b', false],
    ['a.-b', false],
    ['a-.b', false],
    ['.a', false],
    ['a.', false],
    ['A', false],
    ['a_b', false],
    ['', false],
  ])('%j valid: %s, for the agent and the report schema alike', (name, valid) => {
    expect(isDnsSubdomain(name)).toBe(valid);
    expect(schemaAccepts(name)).toBe(valid);
  });

  it('the agent refuses what the schema would refuse, before any report', () => {
    expect(() => explicitNodeName({ flag: 'a..b' })).toThrow(/^--node-name: "a..b" is not a valid node name/);
    expect(() => explicitNodeName({ env: 'a.-b' })).toThrow(/^NODE_NAME: "a.-b"/);
  });
});
