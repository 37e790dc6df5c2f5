/**
 * Runs one release of the sample MCP server: `node --import tsx main.ts <release.yaml>`, on the
 * port in PORT (default 3000), loopback only.
 */
import { z } from 'zod';
import { readPushTelemetryEnv } from '../../../src/config/push-telemetry-env.js';
import { readReleaseDescriptor } from '../../../src/drivers/release-descriptor.js';
import { pushHealthSamples } from './health-pusher.js';
import { sampleReleaseSchema } from './sample-release.js';
import { createSampleServer } from './sample-server.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write(
    'usage: main.ts <release.yaml>   (PORT sets the port, MCP_DISABLE_TOOLS and MCP_DISABLE_AGENTS disable tools and' +
      ' agents, MCP_LEGACY_MODE=true serves only the legacy tools, SAMPLE_DEPENDENCY_URL adds a dependency,' +
      ' SAMPLE_DEPENDENCY_REPLICA_URL its replica; FAILSAFE_TELEMETRY_* push its health samples to Kafka)\n',
  );
  process.exit(2);
}
const descriptor = readReleaseDescriptor(file);
const parsed = sampleReleaseSchema.safeParse(descriptor.app);
if (!parsed.success) {
  process.stderr.write(`InvalidReleaseManifest: ${file}: app: ${z.prettifyError(parsed.error)}\n`);
  process.exit(2);
}
if (parsed.data.crashAtStart) {
  process.stderr.write(`release ${descriptor.release} crashes at start (as its manifest says)\n`);
  process.exit(3);
}
const port = Number(process.env.PORT ?? 3000);
const names = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
const disabledTools = names(process.env.MCP_DISABLE_TOOLS);
const disabledAgents = names(process.env.MCP_DISABLE_AGENTS);
const legacyMode = process.env.MCP_LEGACY_MODE === 'true';
const behaviour = parsed.data;
const dependencyUrl =
  (behaviour.dependency === 'replica'
    ? process.env.SAMPLE_DEPENDENCY_REPLICA_URL
    : process.env.SAMPLE_DEPENDENCY_URL) || undefined;
const flags = { disabledTools, disabledAgents, legacyMode };
let push: ReturnType<typeof readPushTelemetryEnv>;
try {
  push = readPushTelemetryEnv(process.env);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const server = createSampleServer({ release: descriptor.release, behaviour, ...flags, dependencyUrl });
const log = (line: string) => process.stderr.write(`${line}\n`);
const pusher = push && pushHealthSamples(push, { url: `http://127.0.0.1:${port}`, release: descriptor.release }, log);
server.http.listen(port, '127.0.0.1', () =>
  process.stdout.write(
    `sample MCP server ${descriptor.release} on http://127.0.0.1:${port}` +
      `${push ? `, pushing its health samples to ${push.topic} every ${push.intervalMs} ms` : ''}\n`,
  ),
);
const stop = () => {
  const flushed = pusher?.stop() ?? Promise.resolve();
  server.drain(() => void flushed.finally(() => process.exit(0)));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
