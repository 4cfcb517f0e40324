//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package embedded

// lockDataDir is a no-op where flock is not available.
func lockDataDir(string) (release func(), err error) { return func() {}, nil }
