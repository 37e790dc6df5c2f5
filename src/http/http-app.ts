import { validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiDependencies } from '../api/operation.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { TokenRegistry } from '../auth/tokens.js';
import type { McpEndpoint } from '../mcp/mcp-endpoint.js';
import { ALERTMANAGER_WEBHOOK_PATH, alertmanagerWebhook } from './alertmanager-webhook.js';
import { authenticate, rateLimited } from './authentication.js';
import type { TelemetryConsumerStatus } from '../kafka/telemetry-consumer.js';
import type { EventFeedReport } from '../kafka/event-feed-relay.js';
import type { FailsafeMetrics } from './metrics.js';
import { methodNotAllowed, restApi, type ApiEnv } from './rest-api.js';

export interface HttpAppOptions {
  readonly deps: ApiDependencies;
  /** Which adapter serves the store, shown on /health (e.g. "sqlite"). */
  readonly storeEngine: string;
  readonly metrics: FailsafeMetrics;
  readonly tokens: TokenRegistry;
  readonly limiter: RateLimiter;
  readonly mcp: McpEndpoint;
  readonly mcpPath: string;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly maxBodyBytes: number;
  readonly readyMaxLagEvents: number;
  /**
   * The Kafka telemetry consumer, when configured: /ready shows its state and lag but never fails on
   * them. Every replica shares the broker, so failing on it would take them all out of service over
   * telemetry alone; missing samples are the stale-telemetry condition's business (an incident).
   */
  readonly telemetry?: () => TelemetryConsumerStatus;
  /** The Kafka event feed, when it runs: shown on /ready, never failing it. */
  readonly eventFeed?: () => Promise<EventFeedReport>;
  readonly log: (line: string) => void;
}

export interface HttpApp {
  readonly app: Hono<ApiEnv>;
  /** From now on: /ready answers 503, new requests are turned away, live tails end. */
  drain(): void;
}

/** JSON-RPC methods worth a label of their own; anything else counts as "other" (bounded label values). */
const MCP_METHODS = new Set([
  'initialize',
  'notifications/initialized',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
]);
const methodLabel = (body: unknown): string => {
  if (Array.isArray(body)) return 'batch';
  const method = (body as { method?: unknown } | undefined)?.method;
  return typeof method === 'string' ? (MCP_METHODS.has(method) ? method : 'other') : 'invalid';
};

/** The one protocol revision with JSON-RPC batches: 2025-06-18 removed them. Without a header a server assumes it. */
const BATCH_REVISION = '2025-03-26';

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/**
 * Every route Failsafe serves: /health, /ready, /metrics, /api/v1 and the MCP endpoint, behind
 * Host and Origin validation (DNS rebinding), a body size limit, bearer tokens and rate limits.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { deps, metrics } = options;
  const app = new Hono<ApiEnv>();
  const shutdown = new AbortController();

  app.use('*', async (c, next) => {
    const started = process.hrtime.bigint();
    if (shutdown.signal.aborted) {
      c.header('Connection', 'close');
      return c.json(
        {
          error: 'ShuttingDown',
          message: 'Failsafe is shutting down; retry against another replica or after it restarts',
        },
        503,
      );
    }
    await next();
    const route = c.req.routePath === '/*' ? 'unmatched' : c.req.routePath;
    metrics.httpRequests.inc({ route, method: c.req.method, status: String(c.res.status) });
    metrics.httpDuration.observe({ route, method: c.req.method }, seconds(started));
  });
  app.use('*', async (c, next) => {
    const host = validateHostHeader(c.req.header('host'), [...options.allowedHosts]);
    const refused = host.ok ? validateOriginHeader(c.req.header('origin'), [...options.allowedOrigins]) : host;
    if (refused.ok) return next();
    const message =
      `${refused.message}; Failsafe answers the hosts and origins configured ` +
      '(MCP_ALLOWED_HOSTS, MCP_ALLOWED_ORIGINS)';
    // The MCP endpoint answers in JSON-RPC, everything else in the documented error shape.
    if (c.req.path === options.mcpPath) {
      return c.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }, 403);
    }
    return c.json({ error: 'Forbidden', message: `Forbidden: ${message}` }, 403);
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: options.maxBodyBytes,
      // The rest of the body is never read: the connection must not be reused.
      onError: (c) =>
        c.json(
          {
            error: 'PayloadTooLarge',
            message: `the body is larger than ${options.maxBodyBytes} bytes (MCP_MAX_BODY_BYTES)`,
          },
          413,
          { Connection: 'close' },
        ),
    }),
  );

  app.get('/health', async (c) => {
    try {
      const headPosition = await deps.store.headPosition();
      return c.json({ status: 'ok', store: { engine: options.storeEngine, headPosition: headPosition.toString() } });
    } catch (error) {
      return c.json(
        { status: 'unavailable', store: { engine: options.storeEngine, error: (error as Error).message } },
        503,
      );
    }
  });

  /**
   * The feed is reported, never a reason for 503: readiness decides whether this replica takes API and
   * MCP traffic, which a slow or unreachable broker does not hinder; taking replicas out of service
   * would not bring the broker back, and with the broker down it would take every replica out at once.
   * Alert on failsafe_kafka_feed_lag_events instead.
   */
  const eventFeed = async () => {
    if (!options.eventFeed) return {};
    const { state, topic, position, headPosition, lagEvents, published, lastError } = await options.eventFeed();
    const report = { state, topic, position: String(position), headPosition: String(headPosition), lagEvents };
    return { eventFeed: { ...report, published, ...(lastError && { lastError }) } };
  };

  app.get('/ready', async (c) => {
    const kafka = options.telemetry && { telemetry: options.telemetry() };
    try {
      const lag = await deps.readModels.lag();
      const feed = await eventFeed();
      const behind = Object.entries(lag).filter(([, events]) => events > options.readyMaxLagEvents);
      if (behind.length > 0) {
        return c.json(
          {
            status: 'not_ready',
            lag,
            ...kafka,
            ...feed,
            problems: behind.map(
              ([name, events]) => `${name} is ${events} events behind (more than ${options.readyMaxLagEvents})`,
            ),
          },
          503,
        );
      }
      return c.json({ status: 'ready', lag, ...kafka, ...feed });
    } catch (error) {
      return c.json(
        { status: 'not_ready', problems: [`the event store is unreachable: ${(error as Error).message}`] },
        503,
      );
    }
  });

  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
  for (const path of ['/health', '/ready', '/metrics']) app.all(path, (c) => methodNotAllowed(c, ['GET']));

  const auth = authenticate(options.tokens, options.limiter);
  app.use('/api/v1/*', async (c, next) => (c.req.path === '/api/v1/openapi.json' ? next() : auth(c, next)));
  app.route('/api/v1', restApi(deps, shutdown.signal, options.log));
  app.use(ALERTMANAGER_WEBHOOK_PATH, auth);
  app.route(ALERTMANAGER_WEBHOOK_PATH, alertmanagerWebhook(deps.store, deps.now, options.log));

  const serveMcp = async (c: Context<ApiEnv>) => {
    const started = process.hrtime.bigint();
    let parsedBody: unknown;
    let request = c.req.raw;
    if (c.req.method === 'POST') {
      const text = await c.req.text();
      try {
        parsedBody = JSON.parse(text);
      } catch {
        // Not JSON: the SDK answers with the JSON-RPC parse error, so it gets the body back as sent.
        request = new Request(c.req.raw.url, { method: 'POST', headers: c.req.raw.headers, body: text });
      }
    }
    if (Array.isArray(parsedBody)) {
      const revision = c.req.header('mcp-protocol-version') ?? BATCH_REVISION;
      if (revision !== BATCH_REVISION) {
        const message =
          `Invalid Request: JSON-RPC batches were removed in protocol revision 2025-06-18 ` +
          `and this request is ${revision}; ` +
          'send one message per request';
        return c.json({ jsonrpc: '2.0', error: { code: -32600, message }, id: null }, 400);
      }
      // Every message of a batch is a call: the request itself was counted when it was authenticated.
      const verdict = options.limiter.take(c.get('principal').name, Math.max(0, parsedBody.length - 1));
      if (!verdict.allowed) return rateLimited(c, c.get('principal').name, verdict.retryAfterSeconds);
    }
    const response = await options.mcp.handle(request, c.get('principal'), parsedBody);
    const method = c.req.method === 'POST' ? methodLabel(parsedBody) : c.req.method;
    metrics.mcpRequests.inc({ method, status: String(response.status) });
    metrics.mcpDuration.observe({ method }, seconds(started));
    return response;
  };
  app.use(options.mcpPath, auth);
  app.all(options.mcpPath, serveMcp);

  app.notFound((c) =>
    c.json(
      {
        error: 'NotFound',
        message: `no route for ${c.req.method} ${c.req.path}; the API is described at /api/v1/openapi.json`,
      },
      404,
    ),
  );
  return { app, drain: () => shutdown.abort() };
}
