import { z } from 'zod';
import { timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/**
 * The passage of time, recorded: rules such as "stalled for 1 h" fire from these ticks, never from
 * the wall clock, so a replay of the history reaches the same decisions at the same points.
 */
export const timeEvents = [defineEvent('ClockTicked', z.strictObject({ at: timestamp }))] as const;
