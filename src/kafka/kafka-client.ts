import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../config/kafka-config.js';

const LEVELS: Record<number, string> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The one Kafka client of a Failsafe process, for the telemetry consumer and the feed relay.
 * kafkajs' warnings and errors go to Failsafe's log, one line each; it retries a lost broker
 * with its own backoff (up to about 30 s between attempts), forever for the long-running parts.
 */
export function createKafka(
  config: Pick<KafkaConfig, 'brokers' | 'clientId'>,
  log: (line: string) => void = () => {},
): Kafka {
  return new Kafka({
    brokers: [...config.brokers],
    clientId: config.clientId,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, error } = entry as { message: string; error?: string };
        log(`kafka ${LEVELS[level] ?? level} ${namespace}: ${message}${error ? ` (${error})` : ''}`);
      },
  });
}
