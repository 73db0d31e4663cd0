#!/usr/bin/env bash
# The README's first command: the local environment, the AnalyticsPipeline CRD
# and the example pipeline, then `kubectl get analyticspipelines`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"
"$HERE/env-up.sh" >/dev/null
kc() { "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kc apply --server-side --field-manager=shopstream-demo -f "$REPO_ROOT/crds/analyticspipelines.yaml"
kc wait --for=condition=Established --timeout=60s crd/analyticspipelines.analytics.shopstream.dev
kc apply --server-side --field-manager=shopstream-demo -f "$REPO_ROOT/examples/pipeline.yaml"
kc get analyticspipelines
cat <<MSG

The environment stays up. Use it with:
  eval "\$(hack/env.sh)"; \$SHOPSTREAM_KUBECTL get analyticspipelines
Stop it with: make env-down
MSG
