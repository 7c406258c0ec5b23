//go:build tools

// Package deps pins the verified dependency set in this module's go.mod
// before the code that uses it lands (go mod tidy keeps tools-tagged
// imports): a workspace has one build list, and these versions are known to
// build together.
package deps

import (
	_ "github.com/checkpoint-restore/go-criu/v7"
	_ "github.com/containers/image/v5/copy"
	_ "github.com/containers/storage"
	_ "github.com/moby/buildkit/frontend/dockerfile/instructions"
	_ "github.com/moby/buildkit/frontend/dockerfile/parser"
	_ "github.com/opencontainers/runtime-spec/specs-go"
)
