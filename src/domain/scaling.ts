import type { DomainEvent, EventData } from '../events/catalogue.js';
import type { ServiceState } from './service.js';

export type ScalingCommand =
  | ({ readonly type: 'RequestScale' } & EventData<'ScaleRequested'>)
  | ({ readonly type: 'CompleteScale' } & EventData<'ScaleCompleted'>)
  | ({ readonly type: 'FailScale' } & EventData<'ScaleFailed'>);

/**
 * The seeds' scaling procedure: a request, then its outcome, recorded once. An outcome for a
 * request that is not the one waiting (already ended, or replaced by a newer one) records nothing,
 * so executors racing on it, or one resuming it after a restart, leave one outcome.
 */
export function decideScaling(state: ServiceState, command: ScalingCommand): DomainEvent[] {
  const { type, ...data } = command;
  if (type === 'RequestScale') return [{ type: 'ScaleRequested', data: data as EventData<'ScaleRequested'> }];
  if (state.scale?.id !== command.scaleId || state.scale.status !== 'requested') return [];
  if (type === 'CompleteScale') return [{ type: 'ScaleCompleted', data: data as EventData<'ScaleCompleted'> }];
  return [{ type: 'ScaleFailed', data: data as EventData<'ScaleFailed'> }];
}
