/**
 * A deploy endpoint for the webhook driver, as a user would run beside their fleet: it carries each
 * action out on real processes (the process driver, e.g. the sample fleet's releases) and records
 * every request it receives. It deduplicates on the idempotency key, as the webhook contract asks:
 * a repeated action (another replica took the work over) waits for the first one and gets its answer.
 */
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessDriver, type ProcessDriverOptions } from '../drivers/process-driver.js';

export interface AgentRequest {
  readonly action: string;
  readonly service: string;
  readonly release?: string | undefined;
  readonly key: string;
  /** `performance.now()` when it arrived. */
  readonly at: number;
}

export interface DeployAgentOptions {
  /** The address to listen on (e.g. a test network's gateway); any free port. */
  readonly host: string;
  /** The services it runs; actions on any other service are recorded and answered, not carried out. */
  readonly services: ProcessDriverOptions['services'];
  readonly stateDir: string;
  /** Per action, how long after carrying it out the answer waits: a slow deploy system. */
  readonly answerDelayMs?: Readonly<Record<string, number>>;
}

export interface DeployAgent {
  readonly url: string;
  /** The process driver running the releases: where clients reach each service. */
  readonly driver: ProcessDriver;
  /** Every request received but `instances` (reads), in order. */
  readonly received: readonly AgentRequest[];
  /** The actions carried out: one per idempotency key. */
  readonly executed: readonly AgentRequest[];
  close(): Promise<void>;
}

export async function startDeployAgent(options: DeployAgentOptions): Promise<DeployAgent> {
  const driver = await ProcessDriver.start({ services: options.services, stateDir: options.stateDir });
  const received: AgentRequest[] = [];
  const executed: AgentRequest[] = [];
  const byKey = new Map<string, Promise<void>>();
  const carryOut = async (request: AgentRequest) => {
    executed.push(request);
    if (options.services[request.service] && request.release) {
      if (request.action === 'deploy') await driver.deploy(request.service, request.release);
      if (request.action === 'rollback') await driver.rollback(request.service, request.release);
    }
    await sleep(options.answerDelayMs?.[request.action] ?? 0);
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', async () => {
      try {
        const body = JSON.parse(raw) as { action: string; service: string; release?: string };
        const key = String(req.headers['idempotency-key']);
        if (body.action !== 'instances') {
          const request = { action: body.action, service: body.service, release: body.release, key };
          received.push({ ...request, at: performance.now() });
          if (!byKey.has(key)) byKey.set(key, carryOut({ ...request, at: performance.now() }));
          await byKey.get(key);
        }
        // No instance is reported: the replicas probe nothing on other hosts' loopback (the test probes).
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"instances":[]}');
      } catch (error) {
        res.writeHead(500).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, options.host, resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${options.host}:${port}/`,
    driver,
    received,
    executed,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await driver.stopAll();
      await driver.close();
    },
  };
}
