package imagesync

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteSummary prints the counts and one line per failed image:
//
//	copied:      7
//	skipped:     0
//	failed:      1
//	FAILED docker://src/app:3: reading manifest 3 in src/app: manifest unknown
func WriteSummary(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %d\n%-12s %d\n%-12s %d\n", "copied:", s.Count(Copied), "skipped:", s.Count(Skipped), "failed:", s.Count(Failed))
	if n := s.Count(DryRun); n > 0 {
		fmt.Fprintf(&b, "%-12s %d\n", "would copy:", n)
	}
	if n := s.Count(NotStarted); n > 0 {
		fmt.Fprintf(&b, "%-12s %d\n", "not started:", n)
	}
	for _, r := range s.failed() {
		fmt.Fprintf(&b, "FAILED %s: %s\n", r.Source, oneLine(r.Err))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummaryJSON prints the summary as one JSON object: the counts and
// every image with its status, digest and error.
func WriteSummaryJSON(w io.Writer, s Summary) error {
	type image struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		Status      Status `json:"status"`
		Digest      string `json:"digest,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	out := struct {
		Copied     int     `json:"copied"`
		Skipped    int     `json:"skipped"`
		Failed     int     `json:"failed"`
		DryRun     int     `json:"wouldCopy"`
		NotStarted int     `json:"notStarted"`
		Images     []image `json:"images"`
	}{
		Copied: s.Count(Copied), Skipped: s.Count(Skipped), Failed: s.Count(Failed),
		DryRun: s.Count(DryRun), NotStarted: s.Count(NotStarted),
		Images: []image{},
	}
	for _, r := range s.Results {
		im := image{Source: r.Source, Destination: r.Destination, Status: r.Status, Digest: r.Digest.String()}
		if r.Err != nil {
			im.Error = oneLine(r.Err)
		}
		out.Images = append(out.Images, im)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// failed returns the failed results sorted by source.
func (s Summary) failed() []Result {
	var failed []Result
	for _, r := range s.Results {
		if r.Status == Failed {
			failed = append(failed, r)
		}
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].Source < failed[j].Source })
	return failed
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
}
