//go:build tools

// Package tools records the main package this module exists to build, so
// `go mod tidy` keeps its dependencies. Build with
// `go build helm.sh/helm/v3/cmd/helm` from this directory.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
