import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readYamlFile } from './yaml-file.js';

const serviceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'letters, digits, ".", "_" and "-"');

/** The fleet Failsafe acts on: `--fleet <file>` (env FAILSAFE_FLEET). Paths are relative to the file. */
export const fleetConfigSchema = z.strictObject({
  services: z.record(
    serviceName,
    z.strictObject({
      driver: z.literal('process'),
      releasesDir: z.string().min(1),
      /** The service's stable address on loopback. */
      port: z.number().int().min(0).max(65535),
    }),
  ),
  probe: z
    .strictObject({
      /** The seeds' default interval is 10 s; 1 s detects faster. */
      intervalSeconds: z.number().min(1).max(3600).default(10),
      timeoutSeconds: z.number().positive().max(60).default(5),
    })
    .default({ intervalSeconds: 10, timeoutSeconds: 5 }),
});

export type FleetConfig = z.infer<typeof fleetConfigSchema>;

export function loadFleetConfig(path: string): FleetConfig {
  const config = readYamlFile(fleetConfigSchema, path, 'InvalidFleetFile');
  const base = dirname(resolve(path));
  return {
    ...config,
    services: Object.fromEntries(Object.entries(config.services).map(([name, s]) => [name, { ...s, releasesDir: resolve(base, s.releasesDir) }])),
  };
}
