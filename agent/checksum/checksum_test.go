package checksum

import (
	"strings"
	"testing"
)

func TestKnownDigests(t *testing.T) {
	h, err := NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("ab"))
	h.Write([]byte("c"))
	want := map[string]string{
		SHA256:  "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		MD5:     "md5:900150983cd24fb0d6963f7d28e17f72",
		Adler32: "adler32:024d0127",
	}
	for _, s := range h.Sums() {
		if s.String() != want[s.Algorithm] {
			t.Errorf("%s: %s", s.Algorithm, s)
		}
	}
	if h.Size() != 3 || h.Sum("crc32") != (Sum{}) {
		t.Fatal("size or unknown algorithm")
	}
	s, n, err := Of(strings.NewReader("abc"), Adler32)
	if err != nil || n != 3 || s.String() != want[Adler32] {
		t.Fatalf("Of: %v %d %s", err, n, s)
	}
}

func TestParse(t *testing.T) {
	for in, ok := range map[string]bool{
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad": true,
		"SHA256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD": true,
		"adler32:024d0127":                     true,
		"md5:900150983cd24fb0d6963f7d28e17f72": true,
		"adler32:024d012":                      false, // short
		"adler32:024d012g":                     false, // not hex
		"crc32:024d0127":                       false,
		"024d0127":                             false,
		"":                                     false,
	} {
		s, err := Parse(in)
		if (err == nil) != ok {
			t.Errorf("Parse(%q): %v", in, err)
		}
		if ok && s.Hex != strings.ToLower(s.Hex) {
			t.Errorf("Parse(%q) kept upper case", in)
		}
	}
	a, _ := Parse("adler32:024d0127")
	b, _ := Parse("ADLER32:024D0127")
	c, _ := Parse("adler32:024d0128")
	if !a.Equal(b) || a.Equal(c) {
		t.Fatal("Equal")
	}
}
