/**
 * Calls a tool of a sample service for a while, so that the policy has figures to judge:
 *   npx tsx drills/sample-fleet/generate-traffic.ts [address] [seconds]
 * (default http://127.0.0.1:8091 for 120 s). Loopback addresses only.
 */
import { startTraffic } from './traffic.js';

const address = process.argv[2] ?? 'http://127.0.0.1:8091';
const seconds = Number(process.argv[3] ?? 120);
const { hostname } = new URL(address);
if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(hostname) || !(seconds > 0 && seconds <= 3600)) {
  process.stderr.write(
    'usage: generate-traffic.ts [http://127.0.0.1:<port>] [seconds, 1-3600]: loopback addresses only\n',
  );
  process.exit(2);
}
process.stdout.write(`calling "add" on ${address}/mcp for ${seconds} s (Ctrl-C stops)\n`);
const traffic = startTraffic(() => address);
const stop = async () => {
  await traffic.stop();
  process.exit(0);
};
setTimeout(() => void stop(), seconds * 1000);
process.once('SIGINT', () => void stop());
