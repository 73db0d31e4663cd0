//go:build tools

// Package tools records the main package this module exists to build, so
// `go mod tidy` keeps its dependencies. Build with
// `go build -o etcd go.etcd.io/etcd/server/v3` from this directory.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
