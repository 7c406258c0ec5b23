package main

import (
	"errors"

	ociarchive "github.com/containers/image/v5/oci/archive"
	ocilayout "github.com/containers/image/v5/oci/layout"
	"github.com/containers/image/v5/storage"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"

	"github.com/ocisuite/suite/shared/cli"
)

// Exit codes, like skopeo (≥ 1.10): 0 success, 1 any failure (command-line
// errors included), 2 when the input image does not exist.
const (
	exitFailure  = 1
	exitNotFound = 2
)

var exitCodes = cli.Codes{Default: exitFailure, Usage: exitFailure, Classify: classify}

func classify(err error) (int, bool) {
	if imageNotFound(err) {
		return exitNotFound, true
	}
	return 0, false
}

// imageNotFound reports whether err says the image does not exist (as
// opposed to an authentication, network or input error).
func imageNotFound(err error) bool {
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) && unknownCode(ec.ErrorCode()) {
		return true
	}
	// A multi-error response is decided by its first error, as
	// containers/image does.
	var ecs errcode.Errors
	if errors.As(err, &ecs) && len(ecs) > 0 && errors.As(ecs[0], &ec) && unknownCode(ec.ErrorCode()) {
		return true
	}
	var layoutErr ocilayout.ImageNotFoundError
	var archiveErr ociarchive.ImageNotFoundError
	return errors.Is(err, storage.ErrNoSuchImage) || errors.As(err, &layoutErr) || errors.As(err, &archiveErr)
}

func unknownCode(c errcode.ErrorCode) bool {
	return c == v2.ErrorCodeManifestUnknown || c == v2.ErrorCodeNameUnknown
}
