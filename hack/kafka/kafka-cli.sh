#!/usr/bin/env bash
# Runs a Kafka command line tool from the cached jars, e.g.
#   hack/kafka/kafka-cli.sh org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:19092 --list
# Short names: topics, console-producer, console-consumer, consumer-groups,
# configs, acls, broker-api-versions, metadata-quorum, storage.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"

[[ $# -ge 1 ]] || die "usage: $0 CLASS|SHORT-NAME [ARGS...]   (bootstrap: $KAFKA_BOOTSTRAP)"
cls="$1"; shift
case "$cls" in
  topics)              cls=org.apache.kafka.tools.TopicCommand ;;
  console-producer)    cls=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer)    cls=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  consumer-groups)     cls=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  configs)             cls=kafka.admin.ConfigCommand ;;
  acls)                cls=org.apache.kafka.tools.AclCommand ;;
  broker-api-versions) cls=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  metadata-quorum)     cls=org.apache.kafka.tools.MetadataQuorumCommand ;;
  storage)             cls=kafka.tools.StorageTool ;;
esac
kafka_cli "$cls" "$@"
