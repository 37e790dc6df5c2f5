import type { TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';

/** How a rollback ended, as `failsafe_rollback_duration_seconds` labels it. */
export type RollbackOutcome = 'verified' | 'verification_failed' | 'failed' | 'escalated';

export interface RollbackTiming {
  readonly rollbackId: string;
  readonly service: string;
  readonly outcome: RollbackOutcome;
  /** From the decision (or manual request) to the outcome, by the events' times. */
  readonly seconds: number;
}

export interface RollbackTimingsState {
  asOf: number;
  /** The rollback each service has under way (one at a time), and when it was decided. */
  readonly open: Record<string, { rollbackId: string; decidedAt: number }>;
  readonly finished: RollbackTiming[];
}

/**
 * Each rollback's time from decision to its first outcome: verified (passed or not), failed, or
 * escalated. A rejected (or expired) request never ran, so it is not timed.
 */
export const rollbackTimingsProjection: Projection<RollbackTimingsState> = {
  name: 'rollback-timings',
  version: 1,
  get initialState(): RollbackTimingsState {
    return { asOf: 0, open: {}, finished: [] };
  },
  apply(state, event) {
    state.asOf = advance(state.asOf, event);
    const outcome = outcomeOf(event);
    if (event.type === 'RollbackDecided' || event.type === 'RollbackRequested') {
      state.open[event.data.service] = { rollbackId: event.data.rollbackId, decidedAt: eventTime(event) };
    } else if (outcome !== undefined) {
      const { service, rollbackId } = event.data as { service: string; rollbackId: string };
      const open = state.open[service];
      if (open?.rollbackId !== rollbackId) return state;
      delete state.open[service];
      if (outcome !== 'rejected')
        state.finished.push({ rollbackId, service, outcome, seconds: (eventTime(event) - open.decidedAt) / 1000 });
    }
    return state;
  },
};

function outcomeOf(event: TypedRecordedEvent): RollbackOutcome | 'rejected' | undefined {
  switch (event.type) {
    case 'RollbackVerified':
      return event.data.passed ? 'verified' : 'verification_failed';
    case 'RollbackFailed':
      return 'failed';
    case 'RollbackEscalated':
      return 'escalated';
    case 'RollbackRejected':
      return 'rejected';
    default:
      return undefined;
  }
}
