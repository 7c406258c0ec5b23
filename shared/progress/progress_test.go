package progress

import (
	"fmt"
	"reflect"
	"testing"
)

func TestLines(t *testing.T) {
	var got []string
	w := Lines(func(l string) { got = append(got, l) })
	fmt.Fprint(w, "Getting image source signatures\nCopying blob sha256:ab")
	fmt.Fprint(w, "cd done\r\n\n")
	fmt.Fprint(w, "Writing manifest")
	want := []string{"Getting image source signatures", "Copying blob sha256:abcd done"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
}
