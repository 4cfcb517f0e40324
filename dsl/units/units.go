// Package units parses the human quantities that testbed and campaign files use:
// sizes ("128GiB"), data rates ("10Gbps") and durations ("2h", "01:30:00", "3600").
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// ParseSize parses a byte size such as "512MiB", "600GB" or "1024" (bytes).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty size: write a number with a unit such as \"128GiB\"")
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: write a number with a unit such as \"128GiB\" or \"600GB\"", s)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n), nil
}

// rateUnits maps a data-rate suffix to bits per second; both bit ("Gbps") and
// byte ("GB/s") spellings are accepted because both appear in hardware sheets.
var rateUnits = []struct {
	suffix string
	bits   float64
}{
	{"tbps", 1e12}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
	{"tib/s", 8 * (1 << 40)}, {"gib/s", 8 * (1 << 30)}, {"mib/s", 8 * (1 << 20)}, {"kib/s", 8 * (1 << 10)},
	{"tb/s", 8e12}, {"gb/s", 8e9}, {"mb/s", 8e6}, {"kb/s", 8e3}, {"b/s", 8},
}

// ParseRate parses a data rate such as "10Gbps" or "1.25GB/s" and returns bits per second.
func ParseRate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			num := strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				break
			}
			v := f * u.bits
			if v > math.MaxInt64 {
				return 0, fmt.Errorf("rate %q is too large", s)
			}
			return int64(v), nil
		}
	}
	return 0, fmt.Errorf("invalid rate %q: write a number with a unit such as \"10Gbps\" or \"1.25GB/s\"", s)
}

// ParseDuration parses "2h", "90m30s" (Go syntax), "01:30:00" (hours:minutes:seconds,
// as OAR walltimes are written) or a bare number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	bad := fmt.Errorf("invalid duration %q: write \"2h\", \"90m\", \"01:30:00\" or a number of seconds", s)
	if t == "" {
		return 0, bad
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, bad
		}
		return time.Duration(n) * time.Second, nil
	}
	if strings.Contains(t, ":") {
		parts := strings.Split(t, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return 0, bad
		}
		var total int64
		for i, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 || (i > 0 && n >= 60) || n > 1e9 {
				return 0, bad
			}
			total = total*60 + n
		}
		if len(parts) == 2 { // "HH:MM"
			total *= 60
		}
		if total > math.MaxInt64/int64(time.Second) {
			return 0, bad
		}
		return time.Duration(total) * time.Second, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}
