// Package checksum names, computes and compares the file checksums Gridflow
// moves around with its bytes: adler32 (what FTS3 and grid storage use), md5 and
// sha256. A checksum is written "<algorithm>:<lowercase hex digest>", as in
// "sha256:9f86d0…" or "adler32:062c0215".
package checksum

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"slices"
	"strings"
)

// Algorithm names.
const (
	Adler32 = "adler32"
	MD5     = "md5"
	SHA256  = "sha256"
)

// Default is the algorithm used when a caller names none.
const Default = SHA256

// Algorithms lists the supported algorithms, strongest first.
var Algorithms = []string{SHA256, MD5, Adler32}

// hexLen is the length of a hex digest per algorithm.
var hexLen = map[string]int{SHA256: 64, MD5: 32, Adler32: 8}

// Sum is one checksum: an algorithm and its hex digest.
type Sum struct {
	Algorithm string
	Hex       string
}

// String renders the sum as "<algorithm>:<hex>", or "" for the zero Sum.
func (s Sum) String() string {
	if s.Algorithm == "" {
		return ""
	}
	return s.Algorithm + ":" + s.Hex
}

// IsZero reports whether s is the zero Sum.
func (s Sum) IsZero() bool { return s.Algorithm == "" }

// Equal reports whether s and o name the same algorithm and digest. The digest
// comparison takes constant time.
func (s Sum) Equal(o Sum) bool {
	return s.Algorithm == o.Algorithm && subtle.ConstantTimeCompare([]byte(s.Hex), []byte(o.Hex)) == 1
}

// Supported reports whether algo is a known algorithm name.
func Supported(algo string) bool { _, ok := hexLen[algo]; return ok }

// CheckAlgorithm returns a descriptive error when algo is not supported.
func CheckAlgorithm(algo string) error {
	if !Supported(algo) {
		return fmt.Errorf("unknown checksum algorithm %q: use %s", algo, strings.Join(Algorithms, ", "))
	}
	return nil
}

// Parse reads "<algorithm>:<hex>". The algorithm is case-insensitive and the
// digest is lowercased; its length must fit the algorithm.
func Parse(s string) (Sum, error) {
	algo, digest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Sum{}, fmt.Errorf("invalid checksum %q: write \"<algorithm>:<hex digest>\", as in \"sha256:9f86d08…\"", s)
	}
	algo, digest = strings.ToLower(algo), strings.ToLower(digest)
	if err := CheckAlgorithm(algo); err != nil {
		return Sum{}, err
	}
	if len(digest) != hexLen[algo] {
		return Sum{}, fmt.Errorf("invalid checksum %q: a %s digest has %d hex digits, not %d", s, algo, hexLen[algo], len(digest))
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return Sum{}, fmt.Errorf("invalid checksum %q: the digest is not hexadecimal", s)
	}
	return Sum{Algorithm: algo, Hex: digest}, nil
}

// New returns a fresh hash for algo.
func New(algo string) (hash.Hash, error) {
	switch algo {
	case SHA256:
		return sha256.New(), nil
	case MD5:
		return md5.New(), nil
	case Adler32:
		return adler32.New(), nil
	}
	return nil, CheckAlgorithm(algo)
}

// Hasher computes several checksums of one stream in a single pass. It is an
// io.Writer: put it behind an io.TeeReader or an io.MultiWriter.
type Hasher struct {
	algos  []string
	hashes []hash.Hash
	n      int64
}

// NewHasher hashes with the given algorithms (duplicates are ignored); with
// none it computes every supported algorithm.
func NewHasher(algos ...string) (*Hasher, error) {
	if len(algos) == 0 {
		algos = Algorithms
	}
	h := &Hasher{}
	for _, a := range algos {
		if slices.Contains(h.algos, a) {
			continue
		}
		hh, err := New(a)
		if err != nil {
			return nil, err
		}
		h.algos = append(h.algos, a)
		h.hashes = append(h.hashes, hh)
	}
	return h, nil
}

// Write feeds every hash; it never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	for _, hh := range h.hashes {
		hh.Write(p)
	}
	h.n += int64(len(p))
	return len(p), nil
}

// Size is the number of bytes written so far.
func (h *Hasher) Size() int64 { return h.n }

// Sum returns the checksum with algo of the bytes written so far, or the zero
// Sum when the hasher does not compute algo.
func (h *Hasher) Sum(algo string) Sum {
	for i, a := range h.algos {
		if a == algo {
			return Sum{Algorithm: a, Hex: hex.EncodeToString(h.hashes[i].Sum(nil))}
		}
	}
	return Sum{}
}

// Sums returns every computed checksum, in the order the algorithms were given.
func (h *Hasher) Sums() []Sum {
	out := make([]Sum, len(h.algos))
	for i, a := range h.algos {
		out[i] = Sum{Algorithm: a, Hex: hex.EncodeToString(h.hashes[i].Sum(nil))}
	}
	return out
}

// Of reads r to its end and returns its checksum with algo and its size.
func Of(r io.Reader, algo string) (Sum, int64, error) {
	h, err := NewHasher(algo)
	if err != nil {
		return Sum{}, 0, err
	}
	n, err := io.Copy(h, r)
	if err != nil {
		return Sum{}, n, err
	}
	return h.Sum(algo), n, nil
}
