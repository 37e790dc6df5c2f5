import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { describeError, InvalidRequest, statusOf, UnsupportedMediaType } from '../api/api-errors.js';
import { pathParams, type ApiDependencies, type Operation } from '../api/operation.js';
import { operations } from '../api/operations.js';
import { authorize, type Principal } from '../auth/roles.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import { streamName } from '../events/common-schemas.js';
import { openApiDocument } from './openapi.js';

export type ApiEnv = { Variables: { principal: Principal } };

export const LIVE_TAIL_PATH = '/events/live';

/** A request's input: path parameters with the query string (GET) or the JSON body (POST). */
async function inputOf(c: Context<ApiEnv>, operation: Operation): Promise<Record<string, unknown>> {
  const params = Object.fromEntries(pathParams(operation.http.path).map((name) => [name, c.req.param(name)]));
  if (operation.http.method === 'GET') return { ...c.req.query(), ...params };
  const text = await c.req.text();
  let body: unknown = {};
  const contentType = c.req.header('content-type') ?? '';
  const json = /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType);
  if (text !== '' && !json) throw new UnsupportedMediaType(contentType || 'without a Content-Type');
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new InvalidRequest([
        `the body is not JSON (${(error as Error).message}); send a JSON object with Content-Type: application/json`,
      ]);
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidRequest(['the body must be a JSON object']);
  const clashes = Object.keys(params).filter(
    (name) => name in body && (body as Record<string, unknown>)[name] !== params[name],
  );
  if (clashes.length > 0)
    throw new InvalidRequest(
      clashes.map(
        (name) =>
          `${name} is "${params[name]}" in the path ` +
          `but "${String((body as Record<string, unknown>)[name])}" in the body`,
      ),
    );
  return { ...body, ...params };
}

const problemsOf = (error: z.ZodError) =>
  error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);

export function errorResponse(c: Context, error: unknown): Response {
  const status = statusOf(error);
  return c.json(
    { ...describeError(error), ...(error instanceof InvalidRequest && { problems: error.problems }) },
    status,
  );
}

/** 405 in the documented error shape, with the methods the path answers. */
export const methodNotAllowed = (c: Context, allowed: readonly string[]): Response => {
  const message = `MethodNotAllowed: ${c.req.path} answers ${allowed.join(', ')}, not ${c.req.method}`;
  return c.json({ error: 'MethodNotAllowed', message }, 405, { Allow: allowed.join(', ') });
};

/**
 * `/api/v1`: one route per operation (the same ones MCP offers as tools), the live tail of events
 * as server-sent events, and the OpenAPI document of it all. Callers are authenticated before
 * these routes; each route checks its own permission.
 */
export function restApi(deps: ApiDependencies, shutdown: AbortSignal, log: (line: string) => void): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const document = openApiDocument(operations);
  api.get('/openapi.json', (c) => c.json(document));

  api.get(LIVE_TAIL_PATH, async (c) => {
    authorize(c.get('principal'), 'audit');
    const cursor = c.req.query('after') ?? c.req.header('last-event-id');
    if (cursor !== undefined && !/^\d+$/.test(cursor))
      throw new InvalidRequest([`after="${cursor}": must be a position (the id of the last event received)`]);
    const stream = c.req.query('stream');
    if (stream !== undefined && !streamName.safeParse(stream).success) {
      throw new InvalidRequest([
        `stream="${encodeURIComponent(stream)}": must be a stream name such as service-orders`,
      ]);
    }
    return streamSSE(c, async (sse) => {
      const subscription = deps.store.subscribe({ after: cursor === undefined ? 'end' : BigInt(cursor) });
      const stop = () => void subscription.close();
      shutdown.addEventListener('abort', stop);
      sse.onAbort(stop);
      const keepAlive = setInterval(() => void sse.write(': keep-alive\n\n'), 15_000);
      try {
        for await (const event of subscription) {
          if (stream && event.stream !== stream) continue;
          await sse.writeSSE({
            id: event.position.toString(),
            event: event.type,
            data: JSON.stringify(recordedEventToJson(event)),
          });
        }
      } finally {
        clearInterval(keepAlive);
        shutdown.removeEventListener('abort', stop);
      }
    });
  });

  const methods = new Map<string, string[]>([
    ['/openapi.json', ['GET']],
    [LIVE_TAIL_PATH, ['GET']],
  ]);
  for (const operation of operations) {
    const path = operation.http.path.replace(/\{(\w+)\}/g, ':$1');
    methods.set(path, [...(methods.get(path) ?? []), operation.http.method]);
    api.on(operation.http.method, path, async (c) => {
      authorize(c.get('principal'), operation.permission);
      const parsed = operation.input.safeParse(await inputOf(c, operation));
      if (!parsed.success)
        return c.json(
          {
            error: 'InvalidRequest',
            message: `the request does not fit ${operation.name}'s input; see /api/v1/openapi.json`,
            problems: problemsOf(parsed.error),
          },
          400,
        );
      const result = await operation.run(deps, parsed.data, { principal: c.get('principal') });
      return c.json(result, operation.http.method === 'POST' ? 201 : 200);
    });
  }

  // Registered after every route: only a method no route of the path answers reaches these.
  for (const [path, allowed] of methods) api.all(path, (c) => methodNotAllowed(c, allowed));

  api.onError((error, c) => {
    if (statusOf(error) === 500) log(`api: ${c.req.method} ${c.req.path} failed: ${error.stack ?? error.message}`);
    return errorResponse(c, error);
  });
  return api;
}
