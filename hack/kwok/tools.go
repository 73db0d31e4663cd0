//go:build tools

// Package tools records the main package this module exists to build, so
// `go mod tidy` keeps its dependencies. hack/kube/build.sh builds it with
// `go build sigs.k8s.io/kwok/cmd/kwok` from this directory.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
