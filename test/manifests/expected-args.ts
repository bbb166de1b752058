// THE command lines the manifests run, in one place. The manifests test asserts the rendered containers
// use exactly these, and that every flag here is one the command's option parser accepts.
export const NAMESPACE = 'osmo-node-validator';
export const AGENT_SERVICE_ACCOUNT = 'osmo-node-validator-agent';
export const AGGREGATOR_SERVICE_ACCOUNT = 'osmo-node-validator-aggregator';
export const SERVICE_NAME = 'osmo-node-validator';
export const TLS_SECRET = 'osmo-node-validator-tls';
export const CA_CONFIGMAP = 'osmo-node-validator-ca';
export const TOKEN_AUDIENCE = 'osmo-node-validator';
export const AGENT_TOKEN_FILE = '/var/run/secrets/osmo-node-validator/token';
export const AGENT_CA_FILE = '/etc/osmo-node-validator/ca/ca.crt';
export const SPEC_FILE = '/etc/osmo-node-validator/spec.yaml';
/** The agent's health port: a host port on every node (hostNetwork), so an uncommon one. */
export const AGENT_HEALTH_PORT = 19181;

export const AGENT_ARGS = [
  'agent',
  '--aggregator',
  `https://${SERVICE_NAME}.${NAMESPACE}.svc:443`,
  '--token-file',
  AGENT_TOKEN_FILE,
  '--ca-file',
  AGENT_CA_FILE,
  '--host-root',
  '/host',
  '--exec-mode',
  'chroot',
  '--interval',
  '60s',
  '--health-port',
  String(AGENT_HEALTH_PORT),
];

export const AGGREGATOR_ARGS = [
  'aggregator',
  '--listen',
  '0.0.0.0:8443',
  '--spec',
  SPEC_FILE,
  '--tls-bootstrap',
  `${NAMESPACE}/${TLS_SECRET}`,
  '--token-audience',
  TOKEN_AUDIENCE,
  '--agent-service-account',
  `${NAMESPACE}/${AGENT_SERVICE_ACCOUNT}`,
];

/** The aggregator's command line with the serving certificate from cert-manager's Secret. */
const CERT_MANAGER_AGGREGATOR_ARGS = [
  'aggregator',
  '--listen',
  '0.0.0.0:8443',
  '--spec',
  SPEC_FILE,
  '--tls-cert',
  '/var/run/osmo-node-validator/tls/tls.crt',
  '--tls-key',
  '/var/run/osmo-node-validator/tls/tls.key',
  '--token-audience',
  TOKEN_AUDIENCE,
  '--agent-service-account',
  `${NAMESPACE}/${AGENT_SERVICE_ACCOUNT}`,
];

/** What each overlay adds to (or swaps in) the aggregator's command line (prometheus: nothing). */
export const OVERLAY_AGGREGATOR_ARGS: Record<string, string[]> = {
  'dry-run': [...AGGREGATOR_ARGS, '--dry-run'],
  'no-taints': [...AGGREGATOR_ARGS, '--taint-roles', 'none'],
  'cert-manager': CERT_MANAGER_AGGREGATOR_ARGS,
  'prometheus-cert-manager': CERT_MANAGER_AGGREGATOR_ARGS,
};

/** The image's program (Dockerfile ENTRYPOINT `node /app/dist/cli/main.js`); the DaemonSet's command wraps it. */
export const IMAGE_CLI = '/app/dist/cli/main.js';

/**
 * V8 flags of the agent (a node-side process doing ~0.1 s of work a minute, so the optimizing compiler buys
 * nothing and a small young generation keeps the resident set down). `--lite-mode` is refused in
 * NODE_OPTIONS, so they go on the container's command line. bench/agent runs the agent with exactly these.
 */
export const AGENT_NODE_FLAGS = [
  '--lite-mode',
  '--max-semi-space-size=1',
  '--max-old-space-size=32',
  '--no-node-snapshot',
];

/** The DaemonSet container's command: the image's ENTRYPOINT with AGENT_NODE_FLAGS in between. */
export const AGENT_COMMAND = ['node', ...AGENT_NODE_FLAGS, IMAGE_CLI];

/** Fixed environment of the agent container (besides NODE_NAME): glibc malloc arenas bound the RSS. */
export const AGENT_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '2' };

/**
 * V8 flags of the aggregator, on the container's command line (NODE_OPTIONS refuses them).
 * `--memory-saver-mode`: after a burst of writes (every node labelled at once) V8 otherwise keeps the old
 * generation it grew to — with 5,000 nodes ~200 MiB of heap pages for ~85 MiB live, ~320 MiB resident —
 * where with it the memory reducer compacts it back within seconds (~200 MiB resident; BENCHMARKS.md).
 * It replaced `--optimize-for-size`, which does the same for the old generation but also pins the young
 * one at 2 MiB whatever --max-semi-space-size says: a scavenge every ~60 reports under load, 13.5
 * instead of 6 µs of scavenging per report (BENCHMARKS.md).
 * `--no-allocation-site-pretenuring`: V8 otherwise may decide, from the start-up's allocations (the first
 * node list), to allocate some request-path objects straight into the old generation; they die there, and
 * every request then pays for major GCs and slower scavenges — measured 2× the CPU per request at random
 * start-ups (BENCHMARKS.md, "Allocation-site pretenuring").
 * bench/ starts the aggregator with exactly these.
 */
export const AGGREGATOR_NODE_FLAGS = ['--memory-saver-mode', '--no-allocation-site-pretenuring'];

/** The Deployment container's command: the image's ENTRYPOINT with AGGREGATOR_NODE_FLAGS in between. */
export const AGGREGATOR_COMMAND = ['node', ...AGGREGATOR_NODE_FLAGS, IMAGE_CLI];

/**
 * Fixed environment of the aggregator container. MALLOC_ARENA_MAX: glibc's per-thread arenas (libuv's
 * pool, V8's GC helpers) otherwise hold freed memory. NODE_OPTIONS: a smaller young generation, and an old
 * generation capped well inside the 512Mi limit: uncapped, V8 lets garbage (replaced Node objects, patch
 * responses) pile up to ~560 MiB before a full GC with 5,000 nodes, whose live heap is under 100 MiB (raise
 * it past ~25,000 nodes: roughly 8 KiB per node). bench/ starts the aggregator with these.
 */
export const AGGREGATOR_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=4 --max-old-space-size=256',
};
