// The spec's L4T → JetPack table, applied at evaluation. Agents report what the host says — the L4T release
// from etc/nv_tegra_release and the nvidia-jetpack package version — and the JetPack release is looked up
// here, in the table of the spec in force: editing the table takes effect on the next evaluation (the
// aggregator re-evaluates every stored report on reload) without a new agent. `check` evaluates with the
// same code, so it shows the same JetPack release.
import type { EvaluatedFacts, Facts } from '../report/schema.js';
import { compareParsed, type ParsedVersion, parseVersion } from './versions.js';

/** An L4T release as etc/nv_tegra_release gives it: `# R36 (release), REVISION: 4.3` → `36.4.3`. */
export const L4T_RELEASE = /^\d{1,9}\.\d{1,9}\.\d{1,9}$/;

export type JetpackTable = ReadonlyMap<string, string>;

export function jetpackTable(table: Readonly<Record<string, string>> | undefined): JetpackTable {
  return new Map(Object.entries(table ?? {}));
}

/**
 * The facts as evaluated: facts.jetson.jetpackVersion is the table's JetPack release for the reported L4T
 * release, null when the L4T release is unknown or not in the table. What an older agent sent in that
 * field (it used to look the release up itself) is replaced: the table in force wins. The facts object is
 * returned as it is when nothing changes (no Jetson, or the same answer), so a result shares it.
 */
export function evaluatedFacts(facts: Facts, table: JetpackTable): EvaluatedFacts {
  const jetson = facts.jetson;
  const l4t = jetson?.l4tVersion ?? null;
  const jetpackVersion = l4t === null ? null : (table.get(l4t) ?? null);
  if (jetson === null || jetson.jetpackVersion === jetpackVersion) return facts as EvaluatedFacts;
  return { ...facts, jetson: { ...jetson, jetpackVersion } };
}

/**
 * The oldest L4T release the table maps to a JetPack release ≥ `minJetpack`, or null when none does. An L4T
 * release older than it cannot carry that JetPack, whether the table lists it or not.
 */
export function oldestL4tFor(table: JetpackTable, minJetpack: ParsedVersion): string | null {
  let oldest: { text: string; v: ParsedVersion } | null = null;
  for (const [l4t, jetpack] of table) {
    const jp = parseVersion(jetpack, 'dotted');
    const v = parseVersion(l4t, 'dotted');
    if (!jp || !v || compareParsed(jp, minJetpack) < 0) continue;
    if (oldest === null || compareParsed(v, oldest.v) < 0) oldest = { text: l4t, v };
  }
  return oldest?.text ?? null;
}
