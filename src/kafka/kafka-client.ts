import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../config/kafka-config.js';

const LEVELS: Record<number, string> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Every Kafka client Failsafe makes (the telemetry consumer, the feed relay, a pushing service's
 * publisher) comes from here: kafkajs' warnings and errors go to the caller's log, one line each.
 * Each part sets its own retries: the long-running ones never give up on a lost broker.
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
