// The baseline of the ingest benchmark: a bare fastify POST route that parses the JSON body (fastify's
// default parser) and answers 202 with the same JSON the aggregator answers for that report (its node,
// role, verdict, failing checks and an evaluatedAt time), serialised through a response schema as ours is.
// No authentication, no validation, no evaluation, no store.
//   node --import tsx bench/ingest/bare-server.ts PORT ANSWER_JSON
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? '0');
const answer = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
const accepted = {
  type: 'object',
  properties: {
    node: { type: 'string' },
    role: { type: 'string' },
    verdict: { type: 'string' },
    failingChecks: { type: 'array', items: { type: 'string' } },
    evaluatedAt: { type: 'string' },
  },
};
app.post<{ Body: { node?: unknown } }>(
  '/api/v1/reports',
  { schema: { response: { 202: accepted } } },
  async (request, reply) =>
    reply.code(202).send({ ...answer, node: request.body.node, evaluatedAt: new Date().toISOString() }),
);
app.get('/readyz', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port });
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
