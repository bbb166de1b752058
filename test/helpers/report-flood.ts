// Reports over loopback HTTP, many at a time: a queue of (token, body) jobs sent by a fixed number of
// workers on keep-alive connections, each job's status recorded. Used by the forged-token flood tests.
import { Agent, request } from 'node:http';

export interface FloodJob {
  token: string;
  body: string;
  /** Genuine jobs are the ones the test counts; forged ones are the flood. */
  genuine: boolean;
}

export interface FloodResult {
  /** Status per job, in job order (0 = transport error). */
  statuses: number[];
  /** Time from sending to the answer, per job, in job order. */
  latenciesMs: number[];
  durationMs: number;
}

/** One POST /api/v1/reports; resolves with the status (0 on a transport error or a 10 s timeout). */
export function postReportHttp(agent: Agent, url: URL, token: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/api/v1/reports',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Sends every job once, `workers` at a time, in order. */
export async function flood(baseUrl: string, jobs: FloodJob[], workers: number): Promise<FloodResult> {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const statuses = new Array<number>(jobs.length).fill(0);
  const latenciesMs = new Array<number>(jobs.length).fill(0);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      const sent = performance.now();
      statuses[i] = await postReportHttp(agent, url, job.token, job.body);
      latenciesMs[i] = performance.now() - sent;
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    agent.destroy();
  }
  return { statuses, latenciesMs, durationMs: performance.now() - started };
}

/**
 * A forgery as good as an attacker can make without the issuer's key: a genuine token's header (same alg
 * and kid) and claims with a fresh `jti`, a node name of its own and a future `exp`, and a random
 * signature of the right length. Only the signature tells it from a real token.
 */
export function forgeLike(genuine: string, n: number): string {
  const [header, payload, signature] = genuine.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = {
    ...claims,
    jti: `forged-${n}`,
    'kubernetes.io': {
      ...(claims['kubernetes.io'] as object),
      node: { name: `victim-${n % 97}`, uid: `uid-${n}` },
    },
  };
  const bytes = Buffer.from(signature!, 'base64url').length;
  const random = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) random[i] = (i * 31 + n * 17) & 0xff;
  return `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${random.toString('base64url')}`;
}
