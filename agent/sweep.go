package agent

import (
	"io/fs"
	"strings"
)

// sweepUploads removes the temporary files of uploads that an earlier run of
// the agent left unfinished (it was killed mid-upload): no upload is in
// flight while the agent starts, so every such name is an orphan, invisible
// through the API and never committed. It returns how many it removed.
func (a *Agent) sweepUploads() int {
	n := 0
	_ = fs.WalkDir(a.files.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory: skip it, keep sweeping
		}
		if !d.IsDir() && strings.Contains(d.Name(), tmpMarker) && a.files.Remove(p) == nil {
			n++
		}
		return nil
	})
	return n
}
