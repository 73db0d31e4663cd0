#!/usr/bin/env bash
# Certificates and credentials of the local broker's secured listeners, made
# with openssl and cached in $KAFKA_SECURITY_DIR (hack/kafka/README.md has the
# layout). Files are laid out as Strimzi writes its Secrets, so tests can put
# them into Secrets unchanged.
#
#   certs.sh                 ensure everything up.sh needs; a no-op (a few ms)
#                            when all of it is there, valid for 7 more days and
#                            signed by the CA next to it; whatever is missing,
#                            expiring or signed by a replaced CA is made anew
#   certs.sh user NAME [DIR] issue a client certificate, subject CN=NAME
#                            (Kafka principal User:CN=NAME), from the clients
#                            CA into DIR (default $KAFKA_SECURITY_DIR/users/NAME):
#                            ca.crt, user.crt, user.key like a Strimzi TLS KafkaUser
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
command -v openssl >/dev/null || die "Kafka TLS: openssl not found (apt-get install openssl)"
umask 077   # keys and passwords: owner only

SEC="$KAFKA_SECURITY_DIR"
CA_DAYS=3650
LEAF_DAYS=365
RENEW_SECONDS=$((7 * 24 * 3600))

# fresh FILE...: every file exists and no certificate among them expires soon.
fresh() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || return 1
    if [[ "$f" == *.crt ]]; then
      openssl x509 -in "$f" -noout -checkend "$RENEW_SECONDS" >/dev/null 2>&1 || return 1
    fi
  done
}

# signed_by CA_DIR CERT: CERT chains to CA_DIR/ca.crt (false after a CA was replaced).
signed_by() { openssl verify -CAfile "$1/ca.crt" "$2" >/dev/null 2>&1; }

# make_ca DIR CN: a self-signed CA (ca.crt, ca.key), unless a fresh one is there.
make_ca() {
  local dir="$1" cn="$2"
  fresh "$dir/ca.crt" "$dir/ca.key" && return 0
  local tmp; tmp="$(mktemp -d "$SEC/.tmp.XXXXXX")"
  cat >"$tmp/ext.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = ca
prompt = no
[dn]
O = shopstream-local
CN = $cn
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -newkey rsa:2048 -noenc -days "$CA_DAYS" -config "$tmp/ext.cnf" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; rm -rf "$tmp"; die "Kafka TLS: creating the CA $cn failed"; }
  mkdir -p "$dir"
  mv -f "$tmp/ca.key" "$dir/ca.key" && mv -f "$tmp/ca.crt" "$dir/ca.crt"
  rm -rf "$tmp"
  log "Kafka TLS: new CA $cn in $dir"
}

# issue CA_DIR OUT_DIR CN KIND: a certificate and key signed by CA_DIR's CA into
# OUT_DIR/{user,tls}.{crt,key}. KIND server: SAN localhost/127.0.0.1, serverAuth;
# KIND client: clientAuth; the client directory gets the CA's ca.crt too.
issue() {
  local ca="$1" out="$2" cn="$3" kind="$4" base
  [[ "$kind" == server ]] && base=tls || base=user
  if fresh "$out/$base.crt" "$out/$base.key" && signed_by "$ca" "$out/$base.crt" \
     && { [[ "$kind" == server ]] || cmp -s "$ca/ca.crt" "$out/ca.crt"; }; then
    return 0
  fi
  local tmp; tmp="$(mktemp -d "$SEC/.tmp.XXXXXX")"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "authorityKeyIdentifier = keyid"
    if [[ "$kind" == server ]]; then
      echo "extendedKeyUsage = serverAuth"
      echo "subjectAltName = DNS:localhost, IP:127.0.0.1"
    else
      echo "extendedKeyUsage = clientAuth"
    fi
  } >"$tmp/ext.cnf"
  # The subject is the CN alone: Kafka's default principal mapping then makes
  # it User:CN=<name>, which is what Strimzi's TLS KafkaUsers are.
  openssl req -new -newkey rsa:2048 -noenc -subj "/CN=$cn" \
      -keyout "$tmp/$base.key" -out "$tmp/req.csr" 2>"$tmp/err" \
    && openssl x509 -req -in "$tmp/req.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days "$LEAF_DAYS" -extfile "$tmp/ext.cnf" \
      -out "$tmp/$base.crt" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; rm -rf "$tmp"; die "Kafka TLS: issuing the certificate for CN=$cn failed"; }
  mkdir -p "$out"
  mv -f "$tmp/$base.key" "$out/$base.key" && mv -f "$tmp/$base.crt" "$out/$base.crt"
  [[ "$kind" == server ]] || cp -f "$ca/ca.crt" "$out/ca.crt"
  rm -rf "$tmp"
}

# scram_admin: the password of the SCRAM super user `admin`, registered when
# up.sh formats the storage, as a Strimzi SCRAM KafkaUser's Secret holds it.
scram_admin() {
  local dir="$SEC/users/admin"
  [[ -s "$dir/password" ]] && return 0
  mkdir -p "$dir"
  local password; password="$(openssl rand -hex 16)"
  printf '%s' "$password" >"$dir/password.tmp" && mv -f "$dir/password.tmp" "$dir/password"
  printf 'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="%s";' \
    "$password" >"$dir/sasl.jaas.config"
  log "Kafka SCRAM: new password for the admin user in $dir/password"
}

# client_properties: Java client settings (kafka-cli.sh --command-config) for
# the two admin users; rewritten every time, they only point at the files.
client_properties() {
  local jaas; jaas="$(<"$SEC/users/admin/sasl.jaas.config")"
  cat "$HERE/admin-fast.properties" - <<EOF | replace_if_changed "$SEC/admin-sasl-ssl.properties"
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$jaas
ssl.truststore.type=PEM
ssl.truststore.location=$SEC/cluster-ca/ca.crt
EOF
  # A Java PEM key store wants the key and its certificate in one file.
  cat "$SEC/users/admin-tls/user.key" "$SEC/users/admin-tls/user.crt" \
    | replace_if_changed "$SEC/users/admin-tls/keystore.pem"
  cat "$HERE/admin-fast.properties" - <<EOF | replace_if_changed "$SEC/admin-mtls.properties"
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=$SEC/cluster-ca/ca.crt
ssl.keystore.type=PEM
ssl.keystore.location=$SEC/users/admin-tls/keystore.pem
EOF
}

# replace_if_changed FILE: stdin becomes FILE, atomically, only if it differs,
# so a warm run writes nothing (and up.sh's "newer than the broker" check holds).
replace_if_changed() {
  local tmp; tmp="$(mktemp "$1.XXXXXX")"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

ensure() {
  mkdir -p "$SEC"
  make_ca "$SEC/cluster-ca" "shopstream-local cluster CA"
  make_ca "$SEC/clients-ca" "shopstream-local clients CA"
  # A CA the broker does not trust, for the negative tests.
  make_ca "$SEC/untrusted-ca" "shopstream-local untrusted CA"
  issue "$SEC/cluster-ca" "$SEC/broker" "localhost" server
  # Kafka's PEM key store: the key, then the certificate chain.
  if [[ ! -s "$SEC/broker/keystore.pem" || "$SEC/broker/tls.crt" -nt "$SEC/broker/keystore.pem" ]]; then
    cat "$SEC/broker/tls.key" "$SEC/broker/tls.crt" "$SEC/cluster-ca/ca.crt" \
      | replace_if_changed "$SEC/broker/keystore.pem"
    log "Kafka TLS: new broker certificate (SAN localhost, 127.0.0.1) in $SEC/broker"
  fi
  issue "$SEC/clients-ca" "$SEC/users/admin-tls" "admin-tls" client
  issue "$SEC/untrusted-ca" "$SEC/users/untrusted" "untrusted" client
  scram_admin
  client_properties
  rm -rf "$SEC"/.tmp.*
}

case "${1:-ensure}" in
  ensure) ensure ;;
  user)
    [[ $# -ge 2 && "$2" =~ ^[A-Za-z0-9._-]+$ ]] \
      || die "usage: $0 user NAME [DIR]   (NAME: letters, digits, . _ -)"
    # Only reads the clients CA: tests issue users in parallel while the
    # broker runs, and must never replace what the broker was started with.
    fresh "$SEC/clients-ca/ca.crt" "$SEC/clients-ca/ca.key" \
      || die "Kafka TLS: no clients CA in $SEC/clients-ca; start the broker first (hack/kafka/up.sh)"
    issue "$SEC/clients-ca" "${3:-$SEC/users/$2}" "$2" client
    echo "${3:-$SEC/users/$2}"
    ;;
  *) die "usage: $0 [ensure] | user NAME [DIR]" ;;
esac
