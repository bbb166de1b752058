// The baseline of the ingest benchmark: a bare fastify POST route that only parses JSON and answers 202.
//   node --import tsx bench/ingest/bare-server.ts PORT
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? '0');
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/api/v1/reports', async (_request, reply) => reply.code(202).send({ ok: true }));
app.get('/readyz', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port });
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
