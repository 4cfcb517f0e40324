package storage

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw, want, se string
	}{
		{"file:///data/run1/out.csv", "file:///data/run1/out.csv", "file://localhost"},
		{"file://localhost/data/f", "file:///data/f", "file://localhost"},
		{"FILE://LocalHost/data/f", "file:///data/f", "file://localhost"},
		{"file:/data/f", "file:///data/f", "file://localhost"},
		{"  file:///data/f \n", "file:///data/f", "file://localhost"},
		{"file:///data/with%20space/%C3%A9t%C3%A9", "file:///data/with%20space/%C3%A9t%C3%A9", "file://localhost"},
		{"file:///data/a%2Fb", "file:///data/a/b", "file://localhost"},
		{"file:///data/q%3Fx%23y", "file:///data/q%3Fx%23y", "file://localhost"},
		{"http://Example.ORG:80/a/b?x=1&y=2", "http://example.org/a/b?x=1&y=2", "http://example.org"},
		{"https://example.org:443/a", "https://example.org/a", "https://example.org"},
		{"https://example.org:8443/a%2Fb?sig=AB%2B", "https://example.org:8443/a%2Fb?sig=AB%2B", "https://example.org:8443"},
		{"http://example.org", "http://example.org/", "http://example.org"},
		{"http://example.org/x?", "http://example.org/x", "http://example.org"},
		{"http://[::1]:8080/f", "http://[::1]:8080/f", "http://[::1]:8080"},
		{"http://[::1]:80/f", "http://[::1]/f", "http://[::1]"},
		{"node://n-1/results/out.csv", "node://n-1/results/out.csv", "node://n-1"},
		{"NODE://grisou-12/a%20b", "node://grisou-12/a%20b", "node://grisou-12"},
	} {
		u, err := Parse(tc.raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if got := u.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.raw, got, tc.want)
		}
		if got := u.StorageElement(); got != tc.se {
			t.Errorf("Parse(%q).StorageElement() = %q, want %q", tc.raw, got, tc.se)
		}
		again, err := Parse(u.String())
		if err != nil || again != u {
			t.Errorf("Parse(%q) round trip: %v %#v != %#v", tc.raw, err, again, u)
		}
	}
	u, _ := Parse("node://n-1/results/out.csv")
	if u.NodePath() != "results/out.csv" || u.Host != "n-1" || u.Path != "/results/out.csv" {
		t.Errorf("node URL fields: %#v %q", u, u.NodePath())
	}
	u, _ = Parse("file:///data/a%2Fb")
	if u.Path != "/data/a/b" || u.Host != "" || u.Scheme != "file" {
		t.Errorf("file URL fields: %#v", u)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"/data/f", "no scheme"},
		{"data/f", "no scheme"},
		{"ftp://host/f", `unsupported scheme "ftp"`},
		{"s3://bucket/key", `unsupported scheme "s3"`},
		{"file:relative/f", `no "//"`},
		{"file://server/data/f", `names host "server"`},
		{"file:///data/../etc/passwd", "'..'"},
		{"file:///data/%2e%2e/etc/passwd", "'..'"},
		{"file:///data/%2E%2E/etc", "'..'"},
		{"file:///data/./f", "'.'"},
		{"file:///data//f", "empty segments"},
		{"file:///data/dir/", "ends with '/'"},
		{"file:///", "names no file"},
		{"file:///data/f%00x", "NUL"},
		{"file:///data/f\x00x", "control character"},
		{"file:///data/f\nx", "control character"},
		{"file:///data/f?x=1", "query"},
		{"file:///data/f#frag", "fragment"},
		{"file:///data/%zz", "invalid URL escape"},
		{"http://user:secret@example.org/f", "credentials"},
		{"http:///f", "names no host"},
		{"http://example.org:0/f", "port"},
		{"http://example.org:99999/f", "port"},
		{"http://example.org/f#x", "fragment"},
		{"node:///results/f", "names no node"},
		{"node://n-1", "names no file"},
		{"node://n-1/", "names no file"},
		{"node://N-1/f", "not a node uid"},
		{"node://n_1/f", "not a node uid"},
		{"node://n-1:80/f", "not a node uid"},
		{"node://n-1/a/../b", "'..'"},
		{"node://n-1/a//b", "'..'"},
		{"node://n-1/a?x", "query"},
		{"node://n-1/x.gridflow-tmp-1", "reserved"},
		{"file:///" + strings.Repeat("a", MaxURLLength), "longer than"},
	} {
		_, err := Parse(tc.raw)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tc.raw)
			continue
		}
		if !IsInvalid(err) || IsForbidden(err) {
			t.Errorf("Parse(%q): %v is not only invalid", tc.raw, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %q does not say %q", tc.raw, err, tc.want)
		}
	}
	// Credentials never show in the message.
	_, err := Parse("http://user:secret@example.org/f")
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the password shows: %v", err)
	}
}

func TestURLJSON(t *testing.T) {
	var v struct {
		U URL   `json:"u"`
		L []URL `json:"l"`
	}
	in := `{"u":"file://localhost/data/f","l":["node://n-1/a","https://h:443/x?y"]}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"u":"file:///data/f","l":["node://n-1/a","https://h/x?y"]}` {
		t.Fatalf("JSON: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"u":"ftp://x/y"}`), &v); err == nil || !IsInvalid(err) {
		t.Fatalf("bad URL in JSON: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"file:///data/run1/out.csv", "file://localhost/a/b", "file:/x", "file:///a%2Fb%00",
		"file:///data/%2e%2e/x", "http://example.org/a?b=c", "https://[::1]:443/x%2Fy?z",
		"http://[fe80::1%25en0]:8080/p", "node://n-1/a/b", "node://n-1/../x", "HTTP://EXAMPLE.org:80",
		"http://h/%zz", "http://h/a;b,c@d:e", "ftp://x", "", "://", "file://", "http://é.example/ü?ö",
		"http://h/x?%ZZ", "node://a/b%2F..%2Fc", "file:///\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := Parse(raw)
		if err != nil {
			if !IsInvalid(err) {
				t.Fatalf("Parse(%q): %v is not IsInvalid", raw, err)
			}
			return
		}
		s := u.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", raw, s, err)
		}
		if again != u {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", raw, u, s, again)
		}
		if again.String() != s {
			t.Fatalf("String not stable: %q then %q", s, again.String())
		}
		if err := u.validate(); err != nil {
			t.Fatalf("Parse(%q) gave a URL that does not validate: %v", raw, err)
		}
		if u.Scheme == SchemeFile || u.Scheme == SchemeNode {
			for _, seg := range strings.Split(u.Path, "/")[1:] {
				if seg == ".." || seg == "." || seg == "" {
					t.Fatalf("Parse(%q) let %q through", raw, u.Path)
				}
			}
		}
	})
}
