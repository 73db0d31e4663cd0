#!/usr/bin/env bash
# Users of the local broker's secured listeners, as a Strimzi KafkaUser's
# Secret lays them out (hack/kafka/README.md). Prints the user's directory.
#
#   user.sh scram NAME [DIR]  a random password in DIR/password (and
#                             DIR/sasl.jaas.config), registered on the broker as
#                             SCRAM-SHA-512 and SCRAM-SHA-256 credentials of
#                             User:NAME; run again
#                             to give NAME a new password
#   user.sh tls NAME [DIR]    a client certificate from the clients CA, principal
#                             User:CN=NAME: DIR/ca.crt, user.crt, user.key
#
# DIR defaults to $KAFKA_SECURITY_DIR/users/NAME. A new user may do nothing
# until ACLs allow it (the broker denies by default):
#   hack/kafka/kafka-cli.sh acls --bootstrap-server $KAFKA_BOOTSTRAP --add ...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"
umask 077

usage() { die "usage: $0 scram|tls NAME [DIR]   (NAME: letters, digits, . _ -)"; }
[[ $# -ge 2 && "$2" =~ ^[A-Za-z0-9._-]+$ ]] || usage
kind="$1" name="$2" dir="${3:-$KAFKA_SECURITY_DIR/users/$2}"

case "$kind" in
  scram)
    mkdir -p "$dir"
    password="$(openssl rand -hex 16)"
    # The credential goes to the broker in a file, never on a command line.
    request="$(mktemp "$dir/.scram.XXXXXX")"
    trap 'rm -f "$request"' EXIT
    # One request per mechanism: KRaft refuses two changes of one user's
    # credentials in the same request. (A file takes the value without the
    # brackets --add-config wants.)
    for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
      printf '%s=iterations=4096,password=%s\n' "$mechanism" "$password" >"$request"
      # Over PLAINTEXT, whose ANONYMOUS principal is a super user.
      if ! out="$(kafka_cli kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
          --command-config "$KAFKA_HACK_DIR/admin-fast.properties" \
          --alter --entity-type users --entity-name "$name" --add-config-file "$request" 2>&1)"; then
        # The tool echoes a rejected credential: never print the password.
        printf '%s\n' "${out//$password/<password>}" | grep -v '^\s*at ' | tail -n 10 >&2
        die "Kafka: creating the $mechanism credential of user $name on $KAFKA_BOOTSTRAP failed"
      fi
    done
    printf '%s' "$password" >"$dir/password"
    printf 'org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";' \
      "$name" "$password" >"$dir/sasl.jaas.config"
    echo "$dir"
    ;;
  tls) "$HERE/certs.sh" user "$name" "$dir" ;;
  *) usage ;;
esac
