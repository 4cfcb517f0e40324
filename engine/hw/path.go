package hw

import (
	"fmt"
	"regexp"
	"strings"
)

// CleanPath checks a path of a node's file area: relative, slash-separated,
// without '.', '..' or empty segments, at most 4096 bytes. Nodes check again;
// this catches the mistake before any byte moves.
func CleanPath(p string) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("empty path: name a file, as in results/out.csv")
	case len(p) > 4096:
		return "", fmt.Errorf("path longer than 4096 bytes")
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%q is absolute: name files relative to the node's file area", p)
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("path holds a NUL byte")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%q has '.', '..' or empty segments: name files relative to the node's file area, without them", p)
		}
	}
	return p, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID checks a process or container id: 1 to 128 letters, digits, '.',
// '_' or '-', starting with a letter or digit.
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("invalid id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}
