package storage

import (
	"testing"

	"github.com/gridflow/gridflow/agent/checksum"
)

func TestParseVerify(t *testing.T) {
	tru, fal := true, false
	str := "t"
	for _, tc := range []struct {
		in   any
		want Verify
	}{
		{nil, VerifyNone}, {true, VerifyBoth}, {false, VerifyNone}, {&tru, VerifyBoth}, {&fal, VerifyNone}, {(*bool)(nil), VerifyNone},
		{"none", VerifyNone}, {"n", VerifyNone}, {"", VerifyNone}, {"false", VerifyNone},
		{"source", VerifySource}, {"S", VerifySource},
		{"target", VerifyTarget}, {"t", VerifyTarget}, {&str, VerifyTarget}, {"destination", VerifyTarget},
		{"both", VerifyBoth}, {"b", VerifyBoth}, {"r", VerifyBoth}, {" Both ", VerifyBoth}, {"true", VerifyBoth},
		{VerifySource, VerifySource},
	} {
		got, err := ParseVerify(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseVerify(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []any{"sometimes", "x", 1, 0.5, []string{"both"}} {
		if _, err := ParseVerify(in); !IsInvalid(err) {
			t.Errorf("ParseVerify(%#v): %v, want invalid", in, err)
		}
	}
}

func TestVerifyCheck(t *testing.T) {
	sum := checksum.Sum{Algorithm: checksum.Adler32, Hex: "062c0215"}
	for _, v := range []Verify{"", VerifyNone, VerifyBoth} {
		if err := v.Check(checksum.Sum{}); err != nil {
			t.Errorf("%q without checksum: %v", v, err)
		}
	}
	for _, v := range []Verify{VerifySource, VerifyTarget} {
		if err := v.Check(checksum.Sum{}); !IsInvalid(err) {
			t.Errorf("%q without checksum: %v", v, err)
		}
		if err := v.Check(sum); err != nil {
			t.Errorf("%q with checksum: %v", v, err)
		}
	}
	if err := Verify("always").Check(sum); !IsInvalid(err) {
		t.Errorf("unknown mode: %v", err)
	}
}
