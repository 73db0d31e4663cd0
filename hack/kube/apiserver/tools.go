//go:build tools

// Package tools records the main packages this module exists to build, so
// `go mod tidy` keeps their dependencies. Build with e.g.
// `go build k8s.io/kubernetes/cmd/kube-apiserver` from this directory.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
