// Every name the validator writes comes from its two prefixes; the condition prefix must end in
// osmo.nvidia.com/ (OSMO's validators refuse any other) and be a DNS subdomain.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConditionPrefix, makeNames } from '../../../aggregator/k8s/names.js';

/**
 * OSMO's is_node_available (src/operator/backend_listener.py) for one rule set: a condition whose type a
 * rule matches (Python's re.match: anchored at the start) must have a status some matching rule allows in
 * full, else the node is unavailable. The default Ready rule is left out: these nodes carry no Ready.
 */
function osmoAvailable(
  rules: Record<string, string>,
  conditions: { type: string; status: string }[],
): boolean {
  for (const c of conditions) {
    const matching = Object.entries(rules).filter(([type]) => new RegExp(`^(?:${type})`).test(c.type));
    if (matching.length > 0 && !matching.some(([, status]) => new RegExp(`^(?:${status})$`).test(c.status)))
      return false;
  }
  return true;
}

/** The rule README's "OSMO integration" gives (its first JSON block). */
function readmeRule(): Record<string, string> {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## OSMO integration'));
  const block = /```json\n(.*?)\n```/s.exec(section);
  return JSON.parse(block?.[1] ?? 'null') as Record<string, string>;
}

describe('makeNames', () => {
  it('derives the condition type from the condition prefix, the rest from the label prefix', () => {
    const names = makeNames('validator.example.com/', 'site-a.osmo.nvidia.com/');
    expect(names.conditionType).toBe('site-a.osmo.nvidia.com/BaselineNotMet');
    expect(names.labels.conformant).toBe('validator.example.com/conformant');
    expect(makeNames().conditionType).toBe('osmo.nvidia.com/BaselineNotMet');
  });

  it.each([
    ['example.com/', /must end in "osmo.nvidia.com\/"/],
    ['osmo.nvidia.com', /must end in/],
    ['-a.osmo.nvidia.com/', /DNS subdomain/],
    ['A.osmo.nvidia.com/', /DNS subdomain/],
    [`${'a'.repeat(64)}.osmo.nvidia.com/`, /DNS subdomain/],
  ])('refuses the condition prefix %s', (prefix, message) => {
    expect(() => checkConditionPrefix(prefix)).toThrow(message);
    expect(() => makeNames(undefined, prefix)).toThrow(message);
  });

  it.each(['osmo.nvidia.com/', 'site-a.osmo.nvidia.com/', 'a.b.osmo.nvidia.com/'])('accepts %s', (prefix) => {
    expect(() => checkConditionPrefix(prefix)).not.toThrow();
  });
});

describe("README's OSMO rule, as OSMO evaluates it", () => {
  const rules = readmeRule();
  const type = makeNames().conditionType;
  it.each([
    ['False', true],
    ['True', false],
    ['Unknown', false],
  ])('condition %s: available = %s', (status, available) => {
    expect(osmoAvailable(rules, [{ type, status }])).toBe(available);
  });

  it('a node without the condition is available; other conditions are not matched by the rule', () => {
    expect(osmoAvailable(rules, [])).toBe(true);
    expect(osmoAvailable(rules, [{ type: 'osmo.nvidia.com/Other', status: 'True' }])).toBe(true);
    expect(osmoAvailable(rules, [{ type: 'osmoXnvidiaXcom/BaselineNotMet', status: 'True' }])).toBe(true);
  });
});
