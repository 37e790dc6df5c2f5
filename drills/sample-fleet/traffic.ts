import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Traffic {
  /** Stops calling and resolves once the last call has returned. */
  stop(): Promise<void>;
}

/**
 * MCP clients calling one tool through a service's address, all along, as real users would: a
 * call that fails (the release is bad, the instance is being replaced) is counted by the server
 * and the loop goes on with a new connection. Loopback only, and bounded by `stop()`.
 */
export function startTraffic(
  address: () => string,
  tool = 'add',
  args: Record<string, unknown> = { a: 1, b: 2 },
): Traffic {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const client = new Client({ name: 'failsafe-traffic', version: '1' });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${address()}/mcp`)), { timeout: 5_000 });
        for (let i = 0; i < 20 && !stopped; i += 1) {
          await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 15_000 });
          await sleep(20);
        }
        await client.close();
      } catch {
        await sleep(100);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * An MCP `initialize` from the given agent (named in the x-mcp-agent header): the HTTP status and
 * body it gets. A fresh connection each time: a pooled one may still lead to an instance just replaced.
 */
export const initializeAs = (base: string, agent: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: agent, version: '1' } },
    });
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-mcp-agent': agent,
    };
    const call = request(`${base}/mcp`, { method: 'POST', headers, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    call.on('error', reject);
    call.end(body);
  });
