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

export const featureFlagEvents = [defineEvent('FeatureDisabled', flag), defineEvent('FeatureEnabled', flag)] as const;
