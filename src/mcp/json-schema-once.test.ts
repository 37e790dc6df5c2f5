import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonSchemaOnce } from './json-schema-once.js';

const target = 'draft-2020-12' as const;

describe('jsonSchemaOnce', () => {
  it('converts a schema once per target and direction, giving the same JSON Schema as the schema itself', () => {
    const schema = z.object({ service: z.string().min(1), events: z.number().int().default(10) });
    let conversions = 0;
    const converter = schema['~standard'].jsonSchema;
    const counted = {
      '~standard': {
        ...schema['~standard'],
        jsonSchema: {
          input: (options: { target: string }) => (conversions++, converter.input(options)),
          output: (options: { target: string }) => (conversions++, converter.output(options)),
        },
      },
    };
    const once = jsonSchemaOnce(counted);
    const input = once['~standard'].jsonSchema.input({ target });
    expect(once['~standard'].jsonSchema.input({ target })).toBe(input);
    expect(input).toEqual(converter.input({ target }));
    expect(once['~standard'].jsonSchema.output({ target })).toEqual(converter.output({ target }));
    once['~standard'].jsonSchema.output({ target });
    once['~standard'].jsonSchema.input({ target: 'draft-07' });
    expect(conversions).toBe(3);
  });

  it('converts again when library options are given, since they may change the result', () => {
    const once = jsonSchemaOnce(z.object({ a: z.string() }));
    const options = { target, libraryOptions: { unrepresentable: 'any' } } as const;
    expect(once['~standard'].jsonSchema.input(options)).not.toBe(once['~standard'].jsonSchema.input(options));
  });

  it('validates as the schema does', async () => {
    const once = jsonSchemaOnce(z.strictObject({ service: z.string() }));
    expect(await once['~standard'].validate({ service: 'orders' })).toEqual({ value: { service: 'orders' } });
    const refused = await once['~standard'].validate({ service: 'orders', force: true });
    expect(refused.issues?.[0]?.message).toMatch(/force/);
  });
});
