package units

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"128GiB", 128 << 30, true},
		{"600GB", 600e9, true},
		{"1024", 1024, true},
		{"", 0, false},
		{"lots", 0, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10Gbps", 10e9, true},
		{"25gbps", 25e9, true},
		{"1.25GB/s", 10e9, true},
		{"100Mbps", 100e6, true},
		{"1GiB/s", 8 << 30, true},
		{"fast", 0, false},
		{"-1Gbps", 0, false},
		{"Gbps", 0, false},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2h", 2 * time.Hour, true},
		{"01:30:00", 90 * time.Minute, true},
		{"1:30", 90 * time.Minute, true},
		{"3600", time.Hour, true},
		{"90m30s", 90*time.Minute + 30*time.Second, true},
		{"01:70:00", 0, false},
		{"999999999:00:00", 0, false},
		{"-5", 0, false},
		{"-1h", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"2h", "01:30:00", "3600", "1:2:3:4", "999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}
