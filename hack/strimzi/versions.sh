#!/usr/bin/env bash
# Strimzi release whose io.strimzi:api + io.strimzi:crd-generator jars (Maven
# Central) generate our Kafka/KafkaNodePool/KafkaTopic CRDs. 1.x serves only
# kafka.strimzi.io/v1 (v1beta2 is gone). Sourced after hack/lib.sh.
STRIMZI_VERSION="${STRIMZI_VERSION:-1.2.0}"
# Strimzi 1.x jars are Java 21 class files; the machine default is Java 17.
STRIMZI_JAVA_HOME="${STRIMZI_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
