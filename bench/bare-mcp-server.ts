/**
 * The baseline of the front-door benchmark: a bare MCP SDK v2 server on Hono, one trivial tool,
 * no auth, no store. `tsx bench/bare-mcp-server.ts <port>`; prints `listening <url>` when ready.
 */
import { serve } from '@hono/node-server';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { Hono } from 'hono';
import { z } from 'zod';

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'echo', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text' as const, text }] }),
  );
  return server;
});
const app = new Hono();
app.all('/mcp', (c) => handler.fetch(c.req.raw));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.argv[2] ?? 0) }, (info) =>
  process.stdout.write(`listening http://127.0.0.1:${info.port}\n`),
);
