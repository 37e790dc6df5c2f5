/**
 * Failsafe's MCP endpoint: the one module that knows the MCP SDK v2 server API (it still moves
 * between minor versions). One server instance per request serves both protocol eras:
 * 2026-07-28 (stateless, `server/discover`) and the 2025 revisions (`initialize`, answered
 * statelessly). The tools, resources and prompts it registers are defined once, with their JSON
 * Schemas converted once.
 */
import {
  createMcpHandler,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type AuthInfo,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { describeError, InvalidRequest, NotFound, statusOf } from '../api/api-errors.js';
import { incidentReview } from '../api/incident-review.js';
import type { ApiDependencies, Operation } from '../api/operation.js';
import { lastEvents, operations, serviceView, toJson } from '../api/operations.js';
import { rollbackRunbook } from '../api/rollback-runbook.js';
import { authorize, type Permission, type Principal } from '../auth/roles.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import { decodeStored, type TypedRecordedEvent } from '../events/catalogue.js';
import { identifier, serviceName, streamName } from '../events/common-schemas.js';
import { serviceStream } from '../domain/streams.js';
import { jsonSchemaOnce } from './json-schema-once.js';

export interface McpEndpointOptions {
  readonly version: string;
  /** Called once per tool call with its outcome, for `mcp_tool_requests_total`. */
  readonly onToolCall?: (tool: string, status: 'ok' | 'error') => void;
  readonly log: (line: string) => void;
}

export interface McpEndpoint {
  /** Serves one HTTP request of an authenticated caller. */
  handle(request: Request, principal: Principal, parsedBody?: unknown): Promise<Response>;
  close(): Promise<void>;
}

/** The caller, carried from the HTTP layer's token check to every handler by the SDK's `authInfo`. */
const principalOf = (ctx: ServerContext): Principal => {
  const principal = ctx.http?.authInfo?.extra?.principal as Principal | undefined;
  // The HTTP layer authenticates before the SDK sees a request; a handler without a caller is a wiring bug.
  if (!principal)
    throw new ProtocolError(ProtocolErrorCode.InternalError, 'no authenticated caller reached the handler');
  return principal;
};

/** A refusal of a resource or prompt: the message says what to do. */
const refuse = (error: unknown): never => {
  const { message } = describeError(error);
  throw new ProtocolError(
    statusOf(error) === 500 ? ProtocolErrorCode.InternalError : ProtocolErrorCode.InvalidParams,
    message,
  );
};

const guard = (ctx: ServerContext, permission: Permission): Principal => {
  const principal = principalOf(ctx);
  try {
    authorize(principal, permission);
  } catch (error) {
    refuse(error);
  }
  return principal;
};

const STREAM_EVENTS = 100;

/** A URI template variable, decoded and checked like any input: a bad one is InvalidParams, never an internal error. */
const variable = (value: unknown, schema: z.ZodType<string>, what: string): string => {
  let decoded: string;
  try {
    decoded = decodeURIComponent(String(value));
  } catch {
    return refuse(new InvalidRequest([`${what}: is not a valid URI component`]));
  }
  const parsed = schema.safeParse(decoded);
  if (parsed.success) return parsed.data;
  return refuse(new InvalidRequest(parsed.error.issues.map((i) => `${what}: ${i.message}`)));
};

/** The tool a request calls, when it is one `tools/call` (the only message a server can then be asked). */
const calledTool = (body: unknown): string | undefined => {
  const message = body as { method?: unknown; params?: { name?: unknown } } | undefined;
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const name = message.method === 'tools/call' ? message.params?.name : undefined;
  return typeof name === 'string' ? name : undefined;
};

/** One tool, resource or prompt, defined once and registered on each request's server. */
type Registration = (server: McpServer) => void;

export function createMcpEndpoint(deps: ApiDependencies, options: McpEndpointOptions): McpEndpoint {
  const reportUnexpected = (where: string, error: unknown) => {
    if (statusOf(error) === 500) options.log(`mcp: ${where} failed: ${(error as Error).stack ?? String(error)}`);
  };

  const tool = (operation: Operation): Registration => {
    const config = {
      title: operation.title,
      description: `${operation.description} Needs a token with the ${operation.permission} permission.`,
      inputSchema: jsonSchemaOnce(operation.input),
      outputSchema: jsonSchemaOnce(operation.output),
      annotations: { readOnlyHint: operation.http.method === 'GET', destructiveHint: false, openWorldHint: false },
    };
    const call = async (input: unknown, ctx: ServerContext) => {
      try {
        const principal = principalOf(ctx);
        authorize(principal, operation.permission);
        const result = await operation.run(deps, input as never, { principal });
        options.onToolCall?.(operation.name, 'ok');
        return {
          content: [{ type: 'text' as const, text: JSON.stringify(result, null, 2) }],
          structuredContent: result,
        };
      } catch (error) {
        options.onToolCall?.(operation.name, 'error');
        reportUnexpected(`tool ${operation.name}`, error);
        return { isError: true, content: [{ type: 'text' as const, text: describeError(error).message }] };
      }
    };
    return (server) => server.registerTool(operation.name, config, call);
  };

  const serviceNames = async () => {
    await deps.readModels.catchUp();
    return Object.keys(deps.readModels.services.current().state.services).sort();
  };

  const json = (uri: URL, value: unknown) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
  });

  const serviceStateTemplate = new ResourceTemplate('failsafe://services/{service}', {
    list: async () => ({
      resources: (await serviceNames()).map((name) => ({
        uri: `failsafe://services/${name}`,
        name: `service ${name}`,
        mimeType: 'application/json',
      })),
    }),
    complete: { service: async (prefix) => (await serviceNames()).filter((n) => n.startsWith(prefix)) },
  });
  const serviceState: Registration = (server) =>
    server.registerResource(
      'service-state',
      serviceStateTemplate,
      {
        title: 'Service state',
        description: 'A service as Failsafe knows it: release, last known good, rollback, disabled tools.',
        mimeType: 'application/json',
      },
      async (uri, variables, ctx) => {
        guard(ctx, 'read');
        const view = await serviceView(deps, variable(variables.service, serviceName, 'service')).catch(refuse);
        return json(uri, toJson(view));
      },
    );
  const eventStreamTemplate = new ResourceTemplate('failsafe://streams/{stream}', {
    list: async () => ({
      resources: (await serviceNames()).map((name) => ({
        uri: `failsafe://streams/${serviceStream(name)}`,
        name: `stream ${serviceStream(name)}`,
        mimeType: 'application/json',
      })),
    }),
  });
  const eventStream: Registration = (server) =>
    server.registerResource(
      'event-stream',
      eventStreamTemplate,
      {
        title: 'Event stream',
        description:
          `The latest ${STREAM_EVENTS} events of a stream ` +
          '(service-<name>, health-<name>, migration-<id>, drill-<run>); ' +
          'query_events pages through all of them.',
        mimeType: 'application/json',
      },
      async (uri, variables, ctx) => {
        guard(ctx, 'audit');
        const stream = variable(variables.stream, streamName, 'stream');
        const events = await lastEvents(deps, stream, STREAM_EVENTS);
        if (events.length === 0) refuse(new NotFound(`stream "${stream}" has no events`));
        return json(uri, events.map(recordedEventToJson));
      },
    );

  const text = (description: string, body: string) => ({
    description,
    messages: [{ role: 'user' as const, content: { type: 'text' as const, text: body } }],
  });

  const incidentArgs = z.object({
    incident: identifier.describe('the incident id (its rollback id), or a service name for its latest incident'),
  });
  const postIncidentReview: Registration = (server) =>
    server.registerPrompt(
      'post_incident_review',
      {
        title: 'Post-incident review',
        description:
          "The seeds' post-incident review template, " +
          'filled from the recorded history of an incident (one per rollback or stale-telemetry episode).',
        argsSchema: incidentArgs,
      },
      async ({ incident: wanted }, ctx) => {
        guard(ctx, 'read');
        await deps.readModels.catchUp();
        const all = Object.values(deps.readModels.incidents.current().state.incidents);
        const incident =
          all.find((i) => i.id === wanted) ??
          all.filter((i) => i.service === wanted).sort((a, b) => b.openedAt - a.openedAt)[0];
        if (!incident)
          refuse(
            new NotFound(
              `no incident "${wanted}"; incidents are opened by rollback decisions and requests, ` +
                'and by stale telemetry ' +
                "(service_status shows a service's rollback)",
            ),
          );
        const events: TypedRecordedEvent[] = [];
        for (const id of incident!.eventIds) {
          const recorded = await deps.store.readEvent(id);
          if (recorded) events.push(decodeStored(recorded));
        }
        return text(`Post-incident review of ${incident!.id}`, incidentReview(incident!, events));
      },
    );
  const runbookArgs = z.object({ service: serviceName });
  const rollbackRunbookPrompt: Registration = (server) =>
    server.registerPrompt(
      'rollback_runbook',
      {
        title: 'Rollback runbook',
        description:
          "The seeds' rollback procedure for one service as it is now: decision matrix, disabling a tool, " +
          'the two-person manual rollback, verification.',
        argsSchema: runbookArgs,
      },
      async ({ service }, ctx) => {
        guard(ctx, 'read');
        const view = await serviceView(deps, service).catch(refuse);
        return text(`Rollback runbook for ${service}`, rollbackRunbook(view, deps.policy));
      },
    );

  const tools = new Map(operations.map((operation) => [operation.name, tool(operation)]));
  const everything = [...tools.values(), serviceState, eventStream, postIncidentReview, rollbackRunbookPrompt];
  /**
   * What each request's server needs: one `tools/call` reaches its tool and nothing else, so only that
   * tool is registered (all twenty registrations took about ten times a bare one-tool server's
   * construction); anything else, an unknown tool included, gets them all. Keyed by the request's
   * AuthInfo, which the SDK hands the factory as given.
   */
  const reach = new WeakMap<AuthInfo, readonly Registration[]>();
  const serverInfo = { name: 'failsafe', version: options.version };
  const serverOptions = {
    instructions:
      'Failsafe controls a fleet of MCP servers: status, deployments, rollbacks with two-person approval, ' +
      'disabled tools, migrations, chaos drills and the audit history.',
  };

  // The SDK serves each request on a server of its own (it refuses an instance still serving another),
  // and per-request state lives on it: the instance is built per request, what it holds is built once.
  const handler = createMcpHandler(
    ({ authInfo }) => {
      const server = new McpServer(serverInfo, serverOptions);
      for (const register of (authInfo && reach.get(authInfo)) ?? everything) register(server);
      return server;
    },
    { onerror: (error) => options.log(`mcp: ${error.message}`) },
  );

  return {
    handle(request, principal, parsedBody) {
      const authInfo: AuthInfo = {
        token: 'verified',
        clientId: principal.name,
        scopes: [principal.role],
        extra: { principal },
      };
      const name = calledTool(parsedBody);
      const called = name === undefined ? undefined : tools.get(name);
      if (called) reach.set(authInfo, [called]);
      return handler.fetch(request, { authInfo, ...(parsedBody !== undefined && { parsedBody }) });
    },
    close: () => handler.close(),
  };
}
