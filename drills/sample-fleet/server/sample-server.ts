import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { SampleRelease } from './sample-release.js';

interface Tool {
  readonly name: string;
  /** Served before the MCP migration too: the only tools offered in legacy mode. */
  readonly legacy?: boolean;
  readonly description: string;
  readonly input: z.ZodRawShape;
  run(args: Record<string, unknown>): string;
}

const TOOLS: readonly Tool[] = [
  {
    name: 'echo',
    legacy: true,
    description: 'Echo the text back',
    input: { text: z.string() },
    run: (a) => String(a.text),
  },
  {
    name: 'add',
    legacy: true,
    description: 'Add two numbers',
    input: { a: z.number(), b: z.number() },
    run: (a) => String(Number(a.a) + Number(a.b)),
  },
  {
    name: 'lookup_item',
    description: 'Look up a warehouse item by SKU',
    input: { sku: z.string() },
    run: (a) => JSON.stringify({ sku: a.sku, onHand: 12, location: 'A-3' }),
  },
  {
    name: 'refund',
    description: 'Refund an order',
    input: { orderId: z.string(), amount: z.number() },
    run: (a) => `refunded ${a.amount} on ${a.orderId}`,
  },
  { name: 'time', legacy: true, description: 'The server time', input: {}, run: () => new Date().toISOString() },
];

/** Failures in a row that open a breaker, and how long it stays open before a trial call. */
const BREAKER_FAILURES = 3;
const BREAKER_RETRY_MS = 5_000;

export interface SampleServerOptions {
  readonly release: string;
  readonly behaviour: SampleRelease;
  /** The seeds' way to disable tools without a rollback: `MCP_DISABLE_TOOLS=refund,time`. */
  readonly disabledTools: readonly string[];
  /**
   * Agents rolled back to their non-MCP implementation (`MCP_DISABLE_AGENTS=planner`): their MCP
   * requests are refused, so that their own fallback takes over. An agent names itself in the
   * `x-mcp-agent` header, or as the client name of its `initialize`.
   */
  readonly disabledAgents?: readonly string[] | undefined;
  /** The seeds' legacy mode (`MCP_LEGACY_MODE=true`): only the tools served before the MCP migration. */
  readonly legacyMode?: boolean | undefined;
  /**
   * A dependency that `lookup_item` and /health reach first (`SAMPLE_DEPENDENCY_URL`, its `/ping`):
   * the stand-in for an inventory database, so that drills can put Toxiproxy on a real network
   * hop the service depends on.
   */
  readonly dependencyUrl?: string | undefined;
}

/**
 * The target of drills and examples: an MCP server (SDK v1, Streamable HTTP, stateless) with
 * /health and /metrics (the seeds' metric names), misbehaving as its release says.
 */
export interface SampleServer {
  readonly http: HttpServer;
  /**
   * Graceful stop: finish in-flight calls, answer with `Connection: close` meanwhile so that
   * keep-alive clients reconnect (to the new release behind the service address), then exit.
   */
  drain(done: () => void): void;
}

/** Reaches the dependency's /ping; says why not, if it cannot. */
async function ping(dependencyUrl: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(`${dependencyUrl}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok ? undefined : `dependency answered ${response.status}`;
  } catch (error) {
    return `dependency unreachable: ${(error as Error).message}`;
  }
}

/** The agent a request comes from, if it says. */
function agentOf(req: IncomingMessage, body: unknown): string | undefined {
  const header = req.headers['x-mcp-agent'];
  if (typeof header === 'string' && header) return header;
  const message = body as { method?: unknown; params?: { clientInfo?: { name?: unknown } } } | null;
  const name = message?.method === 'initialize' ? message.params?.clientInfo?.name : undefined;
  return typeof name === 'string' ? name : undefined;
}

export function createSampleServer(options: SampleServerOptions): SampleServer {
  const { release, behaviour, disabledTools, dependencyUrl, disabledAgents = [], legacyMode = false } = options;
  let draining = false;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'mcp_requests_total',
    help: 'MCP requests by method and status',
    labelNames: ['method', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mcp_request_duration_seconds',
    help: 'MCP request duration',
    labelNames: ['method'],
    // 1.5 s: a P95 between 1 and 2 s reads as about 1.5 s, not as just under the seeds' 2 s.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30],
    registers: [registry],
  });
  const toolRequests = new Counter({
    name: 'mcp_tool_requests_total',
    help: 'Tool calls by tool and status',
    labelNames: ['tool', 'status'],
    registers: [registry],
  });
  /** Circuit breakers of the tools' downstream calls: failures in a row, and when to try again once open. */
  const breakers = new Map<string, { failures: number; retryAt: number }>();
  const isOpen = (breaker: { failures: number }) => breaker.failures >= BREAKER_FAILURES;
  new Gauge({
    name: 'mcp_circuit_breaker_open',
    help: '1 while the tool circuit breaker is open',
    labelNames: ['tool'],
    registers: [registry],
    collect() {
      for (const [tool, breaker] of breakers) this.set({ tool }, isOpen(breaker) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'process_memory_limit_bytes',
    help: 'Memory available to this process',
    registers: [registry],
  }).set(behaviour.memoryLimitMb * 2 ** 20);

  const retained: Buffer[] = [];
  if (behaviour.memoryGrowthMbPerSecond > 0) {
    const grow = setInterval(
      () => retained.push(Buffer.alloc(Math.round(behaviour.memoryGrowthMbPerSecond * 2 ** 18), 1)),
      250,
    );
    grow.unref();
  }

  const tools = TOOLS.filter((t) => !disabledTools.includes(t.name) && (!legacyMode || t.legacy));

  /**
   * The downstream call of `failingDownstream` behind its breaker: it fails every time, so once
   * open the breaker stays open (each trial call after BREAKER_RETRY_MS fails again).
   */
  function callFailingDownstream(tool: string): void {
    const breaker = breakers.get(tool) ?? { failures: 0, retryAt: 0 };
    breakers.set(tool, breaker);
    if (isOpen(breaker) && breaker.retryAt > performance.now()) return;
    breaker.failures += 1;
    if (isOpen(breaker)) breaker.retryAt = performance.now() + BREAKER_RETRY_MS;
  }

  const failed = (tool: Tool, why = ''): CallToolResult => ({
    isError: true,
    content: [{ type: 'text', text: `${tool.name} failed (release ${release})${why}` }],
  });

  async function call(tool: Tool, args: Record<string, unknown>): Promise<CallToolResult> {
    const started = performance.now();
    let outcome: CallToolResult;
    if (behaviour.addedLatencyMs > 0) await sleep(behaviour.addedLatencyMs);
    if (tool.name === behaviour.failingDownstream) {
      callFailingDownstream(tool.name);
      // The fallback: not an error for the caller, but the request is only queued.
      outcome = {
        content: [{ type: 'text', text: `${tool.name} queued (release ${release}): its downstream failed` }],
      };
    } else {
      const unreachable = dependencyUrl && tool.name === 'lookup_item' ? await ping(dependencyUrl, 10_000) : undefined;
      if (unreachable !== undefined) outcome = failed(tool, `: ${unreachable}`);
      else if (Math.random() < behaviour.errorRate) outcome = failed(tool);
      else outcome = { content: [{ type: 'text', text: tool.run(args) }] };
    }
    const status = outcome.isError ? 'error' : 'ok';
    toolRequests.inc({ tool: tool.name, status });
    requests.inc({ method: 'tools/call', status });
    duration.observe({ method: 'tools/call' }, (performance.now() - started) / 1000);
    return outcome;
  }

  function mcpServer(): McpServer | Server {
    const info = { name: 'failsafe-sample', version: release };
    if (behaviour.protocolBreak === 'invalid_tool_schema') {
      const broken = new Server(info, { capabilities: { tools: {} } });
      broken.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: tools.map((t) => ({
          name: t.name,
          description: t.description,
          inputSchema: { type: 'string' } as never,
        })),
      }));
      broken.setRequestHandler(CallToolRequestSchema, (request) => {
        const tool = tools.find((t) => t.name === request.params.name);
        if (!tool) throw new Error(`unknown tool ${request.params.name}`);
        return call(tool, request.params.arguments ?? {});
      });
      return broken;
    }
    const server = new McpServer(info);
    for (const tool of tools) {
      server.registerTool(
        tool.name,
        { description: tool.description, inputSchema: tool.input },
        (args: Record<string, unknown>) => call(tool, args),
      );
    }
    return server;
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }));
      return;
    }
    const agent = agentOf(req, body);
    if (agent !== undefined && disabledAgents.includes(agent)) {
      // Not an error of the service (it is not counted): the agent was rolled back on purpose.
      const message = `agent ${agent} is rolled back to its non-MCP implementation here (MCP_DISABLE_AGENTS)`;
      const refusal = JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null });
      res.writeHead(403, { 'content-type': 'application/json' }).end(refusal);
      return;
    }
    const method = (body as { method?: string }).method ?? 'unknown';
    const started = performance.now();
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (method !== 'tools/call') {
      requests.inc({ method, status: res.statusCode < 400 ? 'ok' : 'error' });
      duration.observe({ method }, (performance.now() - started) / 1000);
    }
  }

  const healthy = { status: 'healthy', release, mode: legacyMode ? 'legacy' : 'mcp' };
  const http = createServer((req, res) => {
    if (draining) res.setHeader('connection', 'close');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      void (dependencyUrl ? ping(dependencyUrl, 2_000) : Promise.resolve(undefined)).then((problem) =>
        res
          .writeHead(problem ? 503 : 200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify(problem ? { status: 'unhealthy', release, problem } : { ...healthy, tools: tools.length }),
          ),
      );
    } else if (req.method === 'GET' && path === '/ping') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
    } else if (req.method === 'GET' && path === '/metrics') {
      void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    } else if (path === '/mcp' && req.method === 'POST') {
      handleMcp(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: String(error) }, id: null }));
      });
    } else if (path === '/mcp') {
      res.writeHead(405, { allow: 'POST' }).end();
    } else {
      res.writeHead(404).end();
    }
  });
  return {
    http,
    drain(done) {
      draining = true;
      http.close(done);
      http.closeIdleConnections();
      setInterval(() => http.closeIdleConnections(), 100).unref();
    },
  };
}
