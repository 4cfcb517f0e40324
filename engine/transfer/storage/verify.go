package storage

import (
	"strings"

	"github.com/gridflow/gridflow/agent/checksum"
)

// Verify says which checksums a copy compares (FTS3's verify_checksum).
type Verify string

// Verify modes.
const (
	// VerifyNone compares nothing; the checksums are still computed and
	// reported.
	VerifyNone Verify = "none"
	// VerifySource compares the user's checksum with the source's bytes.
	// It needs the user's checksum.
	VerifySource Verify = "source"
	// VerifyTarget compares the user's checksum with the destination's
	// bytes. It needs the user's checksum.
	VerifyTarget Verify = "target"
	// VerifyBoth compares the source's and the destination's checksums
	// with each other, and with the user's checksum when there is one.
	VerifyBoth Verify = "both"
)

// DefaultAlgorithm hashes the bytes of a copy whose request carries no
// checksum. sha256 rather than the faster adler32: the checksum reported is
// then one a user can trust to identify the file, and its cost stays below
// the disk's and network's (see BenchmarkCopyFileToFile).
const DefaultAlgorithm = checksum.SHA256

// ParseVerify reads FTS3's verify_checksum: a bool (true: both, false:
// none), nil (none), or a string, case-insensitive: "none"/"n", "source"/"s",
// "target"/"t", "both"/"b", "r" (both), "true"/"false", "" (none). Errors
// satisfy IsInvalid.
func ParseVerify(v any) (Verify, error) {
	switch x := v.(type) {
	case nil:
		return VerifyNone, nil
	case bool:
		if x {
			return VerifyBoth, nil
		}
		return VerifyNone, nil
	case *bool:
		if x == nil {
			return VerifyNone, nil
		}
		return ParseVerify(*x)
	case Verify:
		return ParseVerify(string(x))
	case *string:
		if x == nil {
			return VerifyNone, nil
		}
		return ParseVerify(*x)
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "", "none", "n", "false":
			return VerifyNone, nil
		case "source", "s":
			return VerifySource, nil
		case "target", "t", "destination", "d":
			return VerifyTarget, nil
		case "both", "b", "r", "true":
			return VerifyBoth, nil
		}
		return "", invalidf("verify_checksum", "unknown mode %q: use true, false, \"none\", \"source\", \"target\" or \"both\"", x)
	}
	return "", invalidf("verify_checksum", "a %T is not a mode: use true, false, \"none\", \"source\", \"target\" or \"both\"", v)
}

// Check says whether the mode can run with the user's checksum sum: source
// and target need one. The error satisfies IsInvalid.
func (v Verify) Check(sum checksum.Sum) error {
	switch v {
	case "", VerifyNone, VerifyBoth:
		return nil
	case VerifySource, VerifyTarget:
		if sum.IsZero() {
			return invalidf("verify_checksum", "mode %q compares the file with its checksum, and the file has none: give a checksum such as \"adler32:062c0215\", or verify \"both\" (source against destination) or \"none\"", string(v))
		}
		return nil
	}
	return invalidf("verify_checksum", "unknown mode %q: use \"none\", \"source\", \"target\" or \"both\"", string(v))
}

// compares reports whether the mode compares the user's checksum.
func (v Verify) comparesUser(sum checksum.Sum) bool {
	return !sum.IsZero() && v != "" && v != VerifyNone
}

// readsDestination reports whether the mode reads the destination back.
func (v Verify) readsDestination() bool { return v == VerifyTarget || v == VerifyBoth }

func (v Verify) String() string {
	if v == "" {
		return string(VerifyNone)
	}
	return string(v)
}
