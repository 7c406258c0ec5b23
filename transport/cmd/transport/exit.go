package main

import (
	"errors"

	"github.com/containers/image/v5/storage"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"

	"github.com/ocisuite/suite/shared/cli"
)

// Exit codes, like skopeo: 0 success, 1 any failure (command-line errors
// included), 2 when the input image does not exist.
const (
	exitFailure  = 1
	exitNotFound = 2
)

var exitCodes = cli.Codes{Default: exitFailure, Usage: exitFailure, Classify: classify}

func classify(err error) (int, bool) {
	var ec errcode.Error
	if errors.As(err, &ec) && (ec.Code == v2.ErrorCodeManifestUnknown || ec.Code == v2.ErrorCodeNameUnknown) {
		return exitNotFound, true
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) && len(ecs) > 0 {
		if e, ok := ecs[0].(errcode.Error); ok && (e.Code == v2.ErrorCodeManifestUnknown || e.Code == v2.ErrorCodeNameUnknown) {
			return exitNotFound, true
		}
	}
	if errors.Is(err, storage.ErrNoSuchImage) {
		return exitNotFound, true
	}
	return 0, false
}
