import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { identifier, serviceName } from '../events/common-schemas.js';
import { InvalidYamlFile, readYamlFile } from './yaml-file.js';

/**
 * A read-only tool of the service that needs no arguments: post-rollback verification calls it
 * when there is too little traffic to judge the error rate on.
 */
const probeTool = identifier.optional();

/**
 * Where the service's health samples come from: Failsafe probes it (`probe`, the default), or it
 * publishes its own to Kafka (`push`, which needs Kafka configured); the policy treats both alike.
 */
const telemetry = z.enum(['probe', 'push']).default('probe');

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** Kubernetes' own name rules: a namespace or container is a DNS-1123 label, a Deployment a subdomain. */
const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(new RegExp(`^${DNS_LABEL}$`), 'must be a DNS-1123 label: lower-case letters, digits and "-"');
const dnsSubdomain = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(
    new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`),
    'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and "."',
  );
/** A container image naming the release: `{release}` once (the tag), no space or control character. */
const imageTemplate = z
  .string()
  .max(512)
  .regex(/^[^\s\p{Cc}]+$/u, 'must not contain spaces or control characters')
  .refine((image) => image.split('{release}').length === 2, 'must contain {release} exactly once (the image tag)');

/** The fleet Failsafe acts on: `--fleet <file>` (env FAILSAFE_FLEET). Paths are relative to the file. */
export const fleetConfigSchema = z.strictObject({
  services: z.record(
    serviceName,
    z.discriminatedUnion('driver', [
      z.strictObject({
        driver: z.literal('process'),
        releasesDir: z.string().min(1),
        /** The service's stable address on loopback. */
        port: z.number().int().min(0).max(65535),
        /** Environment for every release (e.g. where its dependencies answer). */
        env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'), z.string()).optional(),
        /** Keep the release a deployment replaced running, idle, so a rollback to it is a switch, not a start. */
        warmStandby: z.boolean().default(true),
        probeTool,
        telemetry,
      }),
      z.strictObject({
        driver: z.literal('webhook'),
        url: z.url({ protocol: /^https?$/ }),
        /** The environment variable that holds the HMAC secret (never the secret itself in a file). */
        secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'),
        retries: z.number().int().min(0).max(10).default(3),
        timeoutSeconds: z.number().positive().max(300).default(30),
        probeTool,
        telemetry,
      }),
      z.strictObject({
        driver: z.literal('kubernetes'),
        namespace: dnsLabel,
        deployment: dnsSubdomain,
        /** Optional when the pod template has exactly one container. */
        container: dnsLabel.optional(),
        image: imageTemplate,
        /** The Service or ingress URL: what the prober and post-rollback verification call. */
        address: z.url({ protocol: /^https?$/ }),
        /** Default: KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount when Failsafe runs in the cluster. */
        kubeconfig: z.string().min(1).optional(),
        /** Failsafe's own bound on following a rollout (the Deployment's progressDeadlineSeconds still applies). */
        rolloutTimeoutSeconds: z.number().int().positive().max(86_400).default(600),
        probeTool,
        telemetry,
      }),
    ]),
  ),
  /**
   * Toxiproxy in the fleet's network paths, as in a test environment: `serve` starts it at `api`
   * (unless one answers there) and creates these proxies; drills inject their faults into them.
   */
  toxiproxy: z
    .strictObject({
      api: z.string().regex(/^127\.0\.0\.1:\d{1,5}$/, 'a loopback address such as 127.0.0.1:8474'),
      proxies: z.array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-"'),
          listen: z.string().regex(/^127\.0\.0\.1:\d{1,5}$/, 'a loopback address'),
          upstream: z.string().regex(/^127\.0\.0\.1:\d{1,5}$/, 'a loopback address'),
        }),
      ),
    })
    .optional(),
  probe: z
    .strictObject({
      /** The seeds' default interval is 10 s; 1 s detects faster. */
      intervalSeconds: z.number().min(1).max(3600).default(10),
      timeoutSeconds: z.number().positive().max(60).default(5),
    })
    .default({ intervalSeconds: 10, timeoutSeconds: 5 }),
});

export type FleetConfig = z.infer<typeof fleetConfigSchema>;

export function loadFleetConfig(path: string, env: NodeJS.ProcessEnv = process.env): FleetConfig {
  const config = readYamlFile(fleetConfigSchema, path, 'InvalidFleetFile');
  const base = dirname(resolve(path));
  const missing = Object.entries(config.services).flatMap(([name, s]) => {
    if (s.driver === 'webhook' && !env[s.secretEnv])
      return [`services.${name}.secretEnv: ${s.secretEnv} is not set in the environment`];
    if (s.driver === 'kubernetes' && s.kubeconfig && !existsSync(resolve(base, s.kubeconfig)))
      return [`services.${name}.kubeconfig: no file ${resolve(base, s.kubeconfig)}`];
    return [];
  });
  if (missing.length > 0) throw new InvalidYamlFile('InvalidFleetFile', path, missing);
  return {
    ...config,
    services: Object.fromEntries(
      Object.entries(config.services).map(([name, s]) => [
        name,
        s.driver === 'process'
          ? { ...s, releasesDir: resolve(base, s.releasesDir) }
          : s.driver === 'kubernetes' && s.kubeconfig
            ? { ...s, kubeconfig: resolve(base, s.kubeconfig) }
            : s,
      ]),
    ),
  };
}
