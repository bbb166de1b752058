// node:http for the agent, without undici. An ESM `import … from 'node:http'` builds the module's
// namespace from every export, and Node 24's http exports WebSocket, CloseEvent and MessageEvent as lazy
// getters backed by undici: building the namespace reads them and loads undici, ~10 MiB resident on every
// node for a client the agent never uses. getBuiltinModule returns the CommonJS exports object and reads
// none of them. Types come from `import type … from 'node:http'`, which is erased.
export const http = process.getBuiltinModule('node:http');
