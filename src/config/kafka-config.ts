import { z } from 'zod';

/** A Kafka topic name as Kafka itself allows it (letters, digits, ".", "_", "-"; at most 249). */
export const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a topic name: letters, digits, ".", "_" or "-", at most 249 characters')
  .refine((t) => t !== '.' && t !== '..', 'a topic name other than "." and ".."');

/** `host:port` of a bootstrap broker. */
export const brokerAddress = z
  .string()
  .regex(/^[A-Za-z0-9.-]{1,253}:\d{1,5}$/, 'host:port, such as 127.0.0.1:9092')
  .refine((b) => !/:\d{1,5}$/.test(b) || Number(b.split(':').pop()) <= 65535, 'a port from 0 to 65535');

/**
 * Kafka, optional (`kafka:` in the config file; FAILSAFE_KAFKA_BROKERS turns it on with the
 * defaults): telemetry in (a consumer group on the sample and deployment-notice topics, bad
 * messages to a dead-letter topic) and the event feed out (every event, keyed by stream).
 */
export const kafkaConfigSchema = z.strictObject({
  brokers: z.array(brokerAddress).min(1),
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-"')
    .default('failsafe'),
  telemetry: z
    .strictObject({
      enabled: z.boolean().default(true),
      samplesTopic: topicName.default('failsafe.telemetry.samples'),
      noticesTopic: topicName.default('failsafe.telemetry.deployments'),
      deadLetterTopic: topicName.default('failsafe.telemetry.dead-letter'),
      groupId: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, ".", "_" or "-"')
        .default('failsafe-telemetry'),
      /** A message larger than this goes to the dead-letter topic unread. */
      maxMessageBytes: z.number().int().min(1024).max(16_777_216).default(65_536),
      /**
       * Where the fleet's pushing services (`telemetry: push`) publish, when they reach the broker
       * another way than Failsafe does (Failsafe behind a proxy, say); default: `brokers`.
       */
      pushBrokers: z.array(brokerAddress).min(1).optional(),
      /** A pushing service whose samples stop arriving for this long has stale telemetry (an incident). */
      staleAfterSeconds: z.number().int().min(1).max(86_400).default(30),
    })
    .prefault({}),
  feed: z
    .strictObject({
      enabled: z.boolean().default(true),
      topic: topicName.default('failsafe.events'),
    })
    .prefault({}),
});

export type KafkaConfig = z.infer<typeof kafkaConfigSchema>;
