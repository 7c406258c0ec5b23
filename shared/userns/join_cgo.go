package userns

// The constructor in join.c joins the pause process of a rootless user.

// #cgo CFLAGS: -Wall
// #include <stdlib.h>
import "C"

import (
	"os"
	"unsafe"
)

// The constructor sets these with libc's setenv, which Go's environment,
// read from the process's initial stack, does not see: copy them over.
func init() {
	for _, k := range []string{"_CONTAINERS_ROOTLESS_UID", "_CONTAINERS_ROOTLESS_GID", "_CONTAINERS_USERNS_CONFIGURED"} {
		ck := C.CString(k)
		v := C.getenv(ck)
		C.free(unsafe.Pointer(ck))
		if v != nil {
			os.Setenv(k, C.GoString(v))
		}
	}
}
