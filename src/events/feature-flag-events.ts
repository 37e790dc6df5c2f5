import { z } from 'zod';
import { identifier, reason, serviceName } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/** The seeds' gradual rollback levels: one tool, one agent, or the whole system ("legacy mode"). */
export const featureScope = z.enum(['tool', 'agent', 'system']);

const flag = z
  .strictObject({ service: serviceName, scope: featureScope, target: identifier.optional(), reason: reason.optional() })
  .refine((d) => d.scope === 'system' || d.target !== undefined, {
    path: ['target'],
    message: 'is required for a tool or agent (name the tool or agent)',
  });

/** The flags in force on a service's instances: what the driver was asked to run with. */
const flagsInForce = {
  service: serviceName,
  disabledTools: z.array(identifier),
  disabledAgents: z.array(identifier),
  legacyMode: z.boolean(),
};

export const featureFlagEvents = [
  defineEvent('FeatureDisabled', flag),
  defineEvent('FeatureEnabled', flag),
  /**
   * The driver put the flags in force: a restart of the current release (process), a rollout of its
   * own (kubernetes), or the endpoint's answer (webhook); how many instances are ready with them.
   */
  defineEvent('FeatureFlagsApplied', z.strictObject({ ...flagsInForce, instances: z.number().int().min(0) })),
  /** The driver could not put them in force: the instances run with the flags they had. */
  defineEvent('FeatureFlagsFailed', z.strictObject({ ...flagsInForce, reason })),
] as const;
