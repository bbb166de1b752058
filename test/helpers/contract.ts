// Names from shared/CONTRACT.md that outside checks rely on, in one place for the tests.

/** Check ids that must exist where they apply. */
export const CONTRACT_CHECK_IDS = [
  'cpu.arch',
  'cpu.cores',
  'memory.total',
  'disk.capacity',
  'disk.free',
  'os.release',
  'gpu.driver',
  'gpu.cuda',
  'jetson.jetpack',
  'containerd.version',
  'registry.reachable',
  'node.label',
] as const;
