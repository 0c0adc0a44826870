/** Settings of the single local broker+controller. */
export interface ServerPropertiesOptions {
  /** Interface both listeners bind and advertise; default 127.0.0.1. */
  host?: string;
  kafkaPort: number;
  controllerPort: number;
  /** KRaft metadata and topic data folder. */
  logDirs: string;
}

/** `server.properties` of a combined KRaft node with a static one-voter quorum (format without --standalone). */
export function renderServerProperties(options: ServerPropertiesOptions): string {
  const host = options.host ?? '127.0.0.1';
  const settings: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    ['controller.quorum.voters', `1@${host}:${options.controllerPort}`],
    ['listeners', `PLAINTEXT://${host}:${options.kafkaPort},CONTROLLER://${host}:${options.controllerPort}`],
    ['advertised.listeners', `PLAINTEXT://${host}:${options.kafkaPort}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT'],
    ['log.dirs', options.logDirs],
    ['auto.create.topics.enable', 'false'],
    ['num.partitions', 1],
    ['offsets.topic.replication.factor', 1],
    ['offsets.topic.num.partitions', 1],
    ['transaction.state.log.replication.factor', 1],
    ['transaction.state.log.min.isr', 1],
    ['transaction.state.log.num.partitions', 1],
    ['min.insync.replicas', 1],
    ['group.initial.rebalance.delay.ms', 0],
    ['num.network.threads', 2],
    ['num.io.threads', 4],
    ['log.cleaner.dedupe.buffer.size', 16 * 1024 * 1024],
    ['log.retention.check.interval.ms', 60_000],
  ];
  return `${settings.map(([key, value]) => `${key}=${value}`).join('\n')}\n`;
}
