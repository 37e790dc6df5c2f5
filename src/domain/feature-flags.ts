import type { DomainEvent, EventData } from '../events/catalogue.js';
import type { ServiceState } from './service.js';

type Flag = EventData<'FeatureDisabled'>;

export type FeatureFlagCommand =
  | ({ readonly type: 'DisableFeature' } & Flag)
  | ({ readonly type: 'EnableFeature' } & Flag)
  | ({ readonly type: 'RecordFlagsApplied' } & EventData<'FeatureFlagsApplied'>)
  | ({ readonly type: 'RecordFlagsFailed' } & EventData<'FeatureFlagsFailed'>);

const isDisabled = (state: ServiceState, flag: Flag): boolean =>
  flag.scope === 'system'
    ? state.legacyMode
    : (flag.scope === 'tool' ? state.disabledTools : state.disabledAgents).includes(flag.target ?? '');

/**
 * The seeds' gradual rollback: one tool, one agent, or the whole system. Disabling what is already
 * disabled records nothing, so a retried command is harmless.
 */
export function decideFeatureFlag(state: ServiceState, command: FeatureFlagCommand): DomainEvent[] {
  // The driver's outcome is a fact about the instances, recorded as it comes.
  if (command.type === 'RecordFlagsApplied' || command.type === 'RecordFlagsFailed') {
    const { type, ...data } = command;
    return type === 'RecordFlagsApplied'
      ? [{ type: 'FeatureFlagsApplied', data: data as EventData<'FeatureFlagsApplied'> }]
      : [{ type: 'FeatureFlagsFailed', data: data as EventData<'FeatureFlagsFailed'> }];
  }
  const { type, ...flag } = command;
  const disable = type === 'DisableFeature';
  if (isDisabled(state, flag) === disable) return [];
  return [{ type: disable ? 'FeatureDisabled' : 'FeatureEnabled', data: flag }];
}
