import type { Command } from 'commander';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { ensureJetStream } from '../../infra/nats/ensure-jetstream.js';
import { kvBuckets, streams, topics } from '../../infra/topics.js';
import { settingsOf, withSettings } from './infra.js';

export function registerTopics(program: Command): void {
  const group = program.command('topics').description('Kafka topics, JetStream streams and KV buckets of the layer');

  withSettings(group.command('create'), ['kafkaBrokers', 'topicPartitions', 'natsUrl'])
    .description('create every registered topic, stream and KV bucket that does not exist yet (idempotent)')
    .option('--no-jetstream', 'Kafka topics only')
    .action(async (options: Record<string, unknown>) => {
      const config = settingsOf(options);
      const kafka = await ensureTopics({ brokers: config.kafkaBrokers, partitions: config.topicPartitions });
      process.stdout.write(
        `Kafka ${config.kafkaBrokers.join(',')}: created ${list(kafka.created)}; already existed: ${list(kafka.existing)}\n`,
      );
      for (const m of kafka.partitionMismatches) {
        process.stderr.write(
          `cachesage topics: ${m.topic} has ${m.actual} partitions (asked ${m.wanted}); left as it is (changing the count remaps keys)\n`,
        );
      }
      if (options.jetstream === false) return;
      const js = await ensureJetStream({ natsUrl: config.natsUrl });
      process.stdout.write(
        `NATS ${config.natsUrl}: created ${list(js.created)}; already existed: ${list(js.existing)}\n`,
      );
    });

  withSettings(group.command('list'), ['topicPartitions'])
    .description('print the registry: topics with partitions and retention, streams, KV buckets')
    .action((options: Record<string, unknown>) => {
      const config = settingsOf(options);
      for (const t of topics) {
        const partitions = t.partitions === 'default' ? config.topicPartitions : t.partitions;
        process.stdout.write(`${t.name}\t${partitions} partitions\t${t.retention}\t${t.purpose}\n`);
      }
      for (const s of streams) process.stdout.write(`stream ${s.name}\t${s.subjects.join(' ')}\t${s.purpose}\n`);
      for (const b of kvBuckets) process.stdout.write(`kv ${b.name}\thistory ${b.history}\t${b.purpose}\n`);
    });
}

function list(names: string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
