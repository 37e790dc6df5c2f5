import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readYamlFile } from '../config/yaml-file.js';
import { identifier, releaseName } from '../events/common-schemas.js';

/**
 * How the process driver runs one release: `release.yaml` in the release's folder. In `command`
 * and `env`, `{node}` is this Node.js, `{releaseDir}` the release's folder, `{port}` the port the
 * instance must listen on. `app` is the application's own configuration, snapshotted with it.
 */
export const releaseDescriptorSchema = z.strictObject({
  release: releaseName,
  command: z.array(z.string().min(1)).min(1),
  env: z.record(z.string(), z.string()).default({}),
  readiness: z
    .strictObject({
      path: z.string().startsWith('/').default('/health'),
      timeoutSeconds: z.number().positive().max(600).default(30),
    })
    .default({ path: '/health', timeoutSeconds: 30 }),
  stopGraceSeconds: z.number().nonnegative().max(600).default(30),
  app: z.record(z.string(), z.unknown()).default({}),
  /** The tools this release serves (its catalogue): post-rollback verification expects these, minus those disabled. */
  tools: z.array(identifier).min(1).optional(),
});

export type ReleaseDescriptor = z.infer<typeof releaseDescriptorSchema> & { readonly dir: string };

export const RELEASE_FILE = 'release.yaml';

/** Reads and checks `release.yaml`; a bad one is an InvalidReleaseManifest naming each problem by line. */
export function readReleaseDescriptor(file: string): ReleaseDescriptor {
  return { ...readYamlFile(releaseDescriptorSchema, file, 'InvalidReleaseManifest'), dir: dirname(resolve(file)) };
}

export function expand(text: string, values: { releaseDir: string; port: number }): string {
  return text
    .replaceAll('{node}', process.execPath)
    .replaceAll('{releaseDir}', values.releaseDir)
    .replaceAll('{port}', String(values.port));
}
