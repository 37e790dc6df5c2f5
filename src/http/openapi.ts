import { z } from 'zod';
import { pathParams, type Operation } from '../api/operation.js';
import { rolesWith } from '../auth/roles.js';

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; required?: string[] };

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    problems: { type: 'array', items: { type: 'string' } },
  },
  required: ['error', 'message'],
};

const json = { 'application/json': { schema: errorSchema } };

const errors = {
  '400': {
    description: 'The input does not fit the schema (unknown fields included); `problems` lists each field',
    content: json,
  },
  '401': { description: 'No bearer token, an unknown one, or one past its expiresAt', content: json },
  '403': { description: "The token's role lacks the permission, or the Host or Origin is not allowed", content: json },
  '404': { description: 'No such service, release, rollback, migration, drill, drill run or decision', content: json },
  '405': { description: 'The path does not answer this method; the Allow header lists those it does', content: json },
  '409': {
    description: 'Refused by a rule of the domain (e.g. approving your own rollback), or a concurrent change won',
    content: json,
  },
  '413': { description: 'The body is larger than the configured limit', content: json },
  '415': { description: 'A body that is not sent as application/json', content: json },
  '429': {
    description:
      'Rate limit of this token (without a valid token: of this address) exceeded; retry after the Retry-After header',
    content: json,
  },
};

/** The OpenAPI 3.1 document of `/api/v1`, generated from the schemas that validate its requests. */
export function openApiDocument(operations: readonly Operation[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const input = schemaOf(operation.input, 'input');
    const inPath = pathParams(operation.http.path);
    const fields = Object.entries(input.properties ?? {});
    const required = new Set(input.required ?? []);
    const parameters = fields
      .filter(([name]) => inPath.includes(name) || operation.http.method === 'GET')
      .map(([name, schema]) => ({
        name,
        in: inPath.includes(name) ? 'path' : 'query',
        required: inPath.includes(name) || required.has(name),
        ...(typeof schema.description === 'string' && { description: schema.description }),
        schema,
      }));
    const bodyFields = operation.http.method === 'POST' ? fields.filter(([name]) => !inPath.includes(name)) : [];
    paths[`/api/v1${operation.http.path}`] ??= {};
    paths[`/api/v1${operation.http.path}`]![operation.http.method.toLowerCase()] = {
      operationId: operation.name,
      summary: operation.title,
      description:
        `${operation.description}\n\nRoles allowed: ${rolesWith(operation.permission).join(', ')}. ` +
        `Also the MCP tool \`${operation.name}\`.`,
      parameters,
      ...(bodyFields.length > 0 && {
        requestBody: {
          required: bodyFields.some(([name]) => required.has(name)),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: Object.fromEntries(bodyFields),
                required: bodyFields.map(([n]) => n).filter((n) => required.has(n)),
                additionalProperties: false,
              },
            },
          },
        },
      }),
      responses: {
        [operation.http.method === 'POST' ? '201' : '200']: {
          description: 'Done',
          content: { 'application/json': { schema: schemaOf(operation.output, 'output') } },
        },
        ...errors,
      },
      security: [{ bearer: [] }],
    };
  }
  paths['/api/v1/events/live'] = {
    get: {
      operationId: 'tail_events',
      summary: 'Live tail of events',
      description:
        'Server-sent events: every event recorded from now (or after `after` / Last-Event-ID), as JSON; ' +
        `the SSE id is the event's position. Roles allowed: ${rolesWith('audit').join(', ')}.`,
      parameters: [
        { name: 'after', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d+$' } },
        { name: 'stream', in: 'query', required: false, schema: { type: 'string' } },
      ],
      responses: {
        '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errors,
      },
      security: [{ bearer: [] }],
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Failsafe API',
      version: '1',
      description:
        'Control plane for fleets of MCP servers. ' +
        'Every action is recorded as an event with its actor (the token name).',
    },
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
