#!/usr/bin/env bash
# Starts a local etcd + kube-apiserver on 127.0.0.1 and writes an admin
# kubeconfig to $KUBECONFIG_PATH. Builds the binaries first if needed.
# Idempotent: when both already run and the API server is ready it returns at
# once. Fails (non-zero, naming the component and its log) if anything does
# not come up. Stop with hack/kube/down.sh.
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

start_time=$SECONDS
exec 3>&2   # keeps a handle on stderr for checks whose output wait_for hides

"$KUBE_HACK_DIR/build.sh"
for bin in "$ETCD_BIN" "$KUBE_APISERVER_BIN" "$KUBECTL_BIN"; do
  [[ -x "$bin" ]] || die "$bin missing after build"
done
mkdir -p "$RUN_DIR" "$LOG_DIR" "$PKI_DIR"

apiserver_ready() {
  [[ -s "$KUBECONFIG_PATH" ]] && [[ "$(kubectl_admin get --raw /readyz 2>/dev/null)" == "ok" ]]
}

# Fast path: both processes are ours and alive and the API server is ready.
if pid_of "$ETCD_PIDFILE" "$ETCD_BIN" >/dev/null \
   && pid_of "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN" >/dev/null \
   && apiserver_ready; then
  log "etcd and kube-apiserver already running and ready ($KUBE_APISERVER_URL); KUBECONFIG=$KUBECONFIG_PATH"
  exit 0
fi

# ---------------------------------------------------------------- PKI ------
# Generated once and kept across down/up, so a kubeconfig handed out earlier
# stays valid. Delete $PKI_DIR to start over.
CA_CRT="$PKI_DIR/ca.crt";            CA_KEY="$PKI_DIR/ca.key"
SERVING_CRT="$PKI_DIR/apiserver.crt"; SERVING_KEY="$PKI_DIR/apiserver.key"
SA_KEY="$PKI_DIR/sa.key";            SA_PUB="$PKI_DIR/sa.pub"
TOKEN_FILE="$PKI_DIR/tokens.csv"

pki_valid() {
  local f
  for f in "$CA_CRT" "$CA_KEY" "$SERVING_CRT" "$SERVING_KEY" "$SA_KEY" "$SA_PUB" "$TOKEN_FILE"; do
    [[ -s "$f" ]] || return 1
  done
  # Regenerate when a certificate expires within a week.
  openssl x509 -checkend 604800 -noout -in "$CA_CRT" >/dev/null &&
    openssl x509 -checkend 604800 -noout -in "$SERVING_CRT" >/dev/null &&
    openssl verify -CAfile "$CA_CRT" "$SERVING_CRT" >/dev/null 2>&1
}

generate_pki() {
  command -v openssl >/dev/null || die "openssl not found (needed to generate the local cluster's certificates)"
  local tmp="$PKI_DIR.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp" && chmod 700 "$tmp"
  (
    cd "$tmp"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=shopstream-local-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.crt
    openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key
    openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
    cat >apiserver.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
      -extfile apiserver.ext -out apiserver.crt
    rm -f apiserver.csr apiserver.ext ca.srl
    # Service-account token signing key pair.
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    # Static token file: token,user,uid,"groups"
    printf '%s,admin,admin,"system:masters"\n' "$(openssl rand -hex 32)" >tokens.csv
    chmod 600 ./*.key tokens.csv
  ) >"$LOG_DIR/pki.log" 2>&1 || { cat "$LOG_DIR/pki.log" >&2; die "generating certificates with openssl failed; see $LOG_DIR/pki.log"; }
  rm -rf "$PKI_DIR" && mv "$tmp" "$PKI_DIR"
  log "generated CA, serving certificate, service-account keys and admin token in $PKI_DIR"
}

if ! pki_valid; then
  # New certificates invalidate a running API server's view: restart it.
  if pid="$(pid_of "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN")"; then
    log "PKI is being regenerated: stopping running kube-apiserver (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in {1..40}; do alive "$pid" || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  generate_pki
fi
ADMIN_TOKEN="$(cut -d, -f1 "$TOKEN_FILE")"

# ---------------------------------------------------------- kubeconfig ----
write_kubeconfig() {
  local tmp="$KUBECONFIG_PATH.tmp.$$"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: shopstream-local
  cluster:
    server: $KUBE_APISERVER_URL
    certificate-authority-data: $(base64 -w0 <"$CA_CRT")
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: shopstream-local
  context:
    cluster: shopstream-local
    user: admin
    namespace: default
current-context: shopstream-local
EOF
  chmod 600 "$tmp"
  mv -f "$tmp" "$KUBECONFIG_PATH"
}
write_kubeconfig

# ------------------------------------------------------------- helpers ----
# (start_detached, alive_and and ensure_port_free live in common.sh, shared
# with hack/local/up.sh)
# ---------------------------------------------------------------- etcd ----
etcd_healthy() { curl -fsS --max-time 3 "$ETCD_URL/health" | grep -q '"health":"true"'; }

if pid_of "$ETCD_PIDFILE" "$ETCD_BIN" >/dev/null; then
  log "etcd already running (pid $(<"$ETCD_PIDFILE"))"
else
  ensure_port_free etcd "$ETCD_CLIENT_PORT"
  ensure_port_free "etcd (peer port)" "$ETCD_PEER_PORT"
  mkdir -p "$ETCD_DATA_DIR" && chmod 700 "$ETCD_DATA_DIR"
  # --unsafe-no-fsync: throw-away test data, and fsync dominates etcd latency
  # on slow disks.
  start_detached etcd "$ETCD_PIDFILE" "$ETCD_LOG" "$ETCD_BIN" \
    --name=shopstream \
    --data-dir="$ETCD_DATA_DIR" \
    --listen-client-urls="$ETCD_URL" \
    --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="shopstream=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync \
    --log-level=warn
fi
wait_for etcd "$ETCD_LOG" 60 alive_and etcd "$ETCD_PIDFILE" "$ETCD_BIN" "$ETCD_LOG" etcd_healthy
log "etcd ready at $ETCD_URL"

# ------------------------------------------------------ kube-apiserver ----
apiserver_readyz() {
  [[ "$(curl -sS --max-time 5 --cacert "$CA_CRT" -H "Authorization: Bearer $ADMIN_TOKEN" \
        "$KUBE_APISERVER_URL/readyz")" == "ok" ]]
}

if pid_of "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN" >/dev/null; then
  log "kube-apiserver already running (pid $(<"$KUBE_APISERVER_PIDFILE"))"
else
  ensure_port_free kube-apiserver "$KUBE_APISERVER_PORT"
  # --advertise-address=127.0.0.1 keeps the server off every other interface;
  # Endpoints may not hold a loopback address, so the "kubernetes" Service's
  # endpoint reconciler is switched off (nothing runs in-cluster here).
  start_detached kube-apiserver "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_LOG" "$KUBE_APISERVER_BIN" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$KUBE_APISERVER_PORT" \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$SERVING_CRT" \
    --tls-private-key-file="$SERVING_KEY" \
    --client-ca-file="$CA_CRT" \
    --authorization-mode=RBAC \
    --token-auth-file="$TOKEN_FILE" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$SA_PUB" \
    --service-account-signing-key-file="$SA_KEY" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --allow-privileged=true \
    --v=1
fi
wait_for kube-apiserver "$KUBE_APISERVER_LOG" 180 \
  alive_and kube-apiserver "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN" "$KUBE_APISERVER_LOG" apiserver_readyz
wait_for "kube-apiserver (via kubectl)" "$KUBE_APISERVER_LOG" 30 apiserver_ready

# The "default" namespace is created by the API server itself shortly after it
# turns ready. Its "default" ServiceAccount would come from
# kube-controller-manager, which is not run here, so create it ourselves.
wait_for "kube-apiserver (namespace default)" "$KUBE_APISERVER_LOG" 60 kubectl_admin get namespace default
if ! kubectl_admin -n default get serviceaccount default >/dev/null 2>&1; then
  kubectl_admin -n default create serviceaccount default >/dev/null 2>&1 || true
fi
wait_for "kube-apiserver (serviceaccount default/default)" "$KUBE_APISERVER_LOG" 30 \
  kubectl_admin -n default get serviceaccount default

log "kube-apiserver ready at $KUBE_APISERVER_URL ($((SECONDS - start_time))s)"
log "export KUBECONFIG=$KUBECONFIG_PATH   # kubectl: $KUBECTL_BIN"
