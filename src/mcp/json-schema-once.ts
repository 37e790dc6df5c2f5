import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';

type Converter = StandardSchemaWithJSON['~standard']['jsonSchema'];
type JsonSchema = ReturnType<Converter['input']>;

/**
 * The same schema, converted to JSON Schema once per target instead of on every use. The SDK converts
 * a tool's schemas on each `tools/list` and `tools/call` (the output schema for every result), and
 * every request has a new server instance, so nothing it memoises outlives the request. Validation
 * is the schema's own. The SDK reads the converted schemas and never changes them.
 */
export function jsonSchemaOnce<Input, Output>(
  schema: StandardSchemaWithJSON<Input, Output>,
): StandardSchemaWithJSON<Input, Output> {
  const standard = schema['~standard'];
  const once = (io: keyof Converter): Converter[typeof io] => {
    const converted = new Map<string, JsonSchema>();
    return (options) => {
      // Library options could change the result: those conversions are not kept.
      if (options.libraryOptions !== undefined) return standard.jsonSchema[io](options);
      let json = converted.get(options.target);
      if (!json) {
        json = standard.jsonSchema[io](options);
        converted.set(options.target, json);
      }
      return json;
    };
  };
  return {
    '~standard': {
      version: standard.version,
      vendor: standard.vendor,
      ...(standard.types && { types: standard.types }),
      validate: standard.validate,
      jsonSchema: { input: once('input'), output: once('output') },
    },
  };
}
