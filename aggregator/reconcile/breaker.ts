// Circuit breaker on tainting: a bad spec or a broken probe must not cordon a whole role. A new taint is
// allowed only while the role's tainted nodes stay within maxTaintedPercent (at least one node always may
// be tainted, so a role of one node can still be protected).
export interface BreakerInput {
  /** Nodes of the role in the cluster (including the candidate). */
  roleNodes: number;
  /** Nodes of the role already tainted by us, or about to be (not counting the candidate). */
  tainted: number;
  maxTaintedPercent: number;
}

export function allowedTainted(roleNodes: number, maxTaintedPercent: number): number {
  return Math.max(1, Math.floor((Math.max(1, roleNodes) * maxTaintedPercent) / 100));
}

/** May one more node of the role be tainted? */
export function breakerAllows(input: BreakerInput): boolean {
  return input.tainted + 1 <= allowedTainted(input.roleNodes, input.maxTaintedPercent);
}
