//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostileAnswer is what one bad request got.
type hostileAnswer struct {
	code   int
	ctype  string
	body   string
	header http.Header
}

func (a hostileAnswer) String() string {
	return fmt.Sprintf("%d %s %s", a.code, a.ctype, short(a.body, 300))
}

// send sends a raw request to the engine container with the given bearer
// token ("" for none) and content type ("" for none).
func (tb *testbed) send(method, path, token, ctype string, body []byte) hostileAnswer {
	tb.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tb.baseURL()+path, rd)
	if err != nil {
		tb.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		tb.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return hostileAnswer{code: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: string(raw), header: res.Header}
}

// TestHostileInputInTheRealTopology: a compact pass of bad requests against
// the engine container, as an attacker on the network would send them
// (api/hostile_test.go covers every operation in depth, in process): no
// credentials, another user's resources, oversized bodies, wrong content
// types, path traversal, transfer URLs to hosts the configuration does not
// allow, and HCL built to exhaust the parser. Each is refused with the right
// 4xx and a problem document, and the engine keeps serving.
func TestHostileInputInTheRealTopology(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 1)
	admin := tb.adminToken
	tried := map[string]int{}
	check := func(kind, what string, a hostileAnswer, want ...int) {
		t.Helper()
		tried[kind]++
		for _, w := range want {
			if a.code == w {
				if a.code >= 400 && !strings.Contains(a.ctype, "problem+json") {
					t.Errorf("%s: %s answered %d as %q, want application/problem+json", kind, what, a.code, a.ctype)
				}
				return
			}
		}
		t.Errorf("%s: %s = %s, want %v", kind, what, a, want)
	}
	jsonBody := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Two plain users, each with a token.
	userToken := func(name string) string {
		a := tb.send("POST", "/v1/users", admin, "application/json", jsonBody(map[string]any{"name": name, "password": "pw-" + randomHex(8)}))
		if a.code != 201 {
			t.Fatalf("create user %s: %s", name, a)
		}
		a = tb.send("POST", "/v1/users/"+name+"/tokens", admin, "application/json", jsonBody(map[string]any{"name": "e2e"}))
		var tok struct {
			Token string `json:"token"`
		}
		if a.code != 201 || json.Unmarshal([]byte(a.body), &tok) != nil || tok.Token == "" {
			t.Fatalf("token for %s: %s", name, a)
		}
		return tok.Token
	}
	alice, bob := userToken("alice"), userToken("bob")

	// Bob's resources.
	a := tb.send("POST", "/v1/sites/"+site+"/reservations", bob, "application/json",
		jsonBody(map[string]any{"nodes": 1, "cluster": cluster, "walltime": "10m", "name": "bobs"}))
	var bobRes reservation
	if a.code != 201 || json.Unmarshal([]byte(a.body), &bobRes) != nil {
		t.Fatalf("bob's reservation: %s", a)
	}
	bobState := func() string {
		var r reservation
		tb.must("GET", "/v1/sites/"+site+"/reservations/"+bobRes.UID, nil, &r, 200)
		return r.State
	}
	eventually(t, "bob's reservation running", time.Minute, 250*time.Millisecond, func() (bool, string) {
		st := bobState()
		return st == "running", st
	})
	a = tb.send("POST", "/v1/campaigns", bob, "application/json", jsonBody(map[string]any{"filename": "bob.hcl",
		"source": `output "x" { value = 1 }`}))
	var bobCampaign campaign
	if (a.code != 201 && a.code != 422) || (a.code == 201 && json.Unmarshal([]byte(a.body), &bobCampaign) != nil) {
		t.Fatalf("bob's campaign: %s", a)
	}

	// No credentials, and bad ones: 401 with a challenge.
	for _, p := range []struct{ method, path, token string }{
		{"GET", "/v1/reservations", ""},
		{"GET", "/v1/whoami", ""},
		{"POST", "/v1/campaigns", ""},
		{"GET", "/v1/sites/" + site + "/reservations/" + bobRes.UID, ""},
		{"GET", "/v1/reservations", "gft_not-a-token"},
		{"GET", "/v1/users", "Basic YWRtaW46YWRtaW4="},
	} {
		a := tb.send(p.method, p.path, p.token, "application/json", nil)
		check("no credentials", p.method+" "+p.path, a, 401)
		if a.code == 401 && a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", p.method, p.path)
		}
	}

	// Another user's resources: 403 or 404, never the resource.
	resPath := "/v1/sites/" + site + "/reservations/" + bobRes.UID
	check("other user", "alice GET bob's reservation", tb.send("GET", resPath, alice, "", nil), 403, 404)
	check("other user", "alice DELETE bob's reservation", tb.send("DELETE", resPath, alice, "", nil), 403, 404)
	check("other user", "alice extends bob's reservation", tb.send("POST", resPath+"/walltime", alice, "application/json", jsonBody(map[string]any{"walltime": "2h"})), 403, 404)
	if bobCampaign.UID != "" {
		check("other user", "alice GET bob's campaign", tb.send("GET", "/v1/campaigns/"+bobCampaign.UID, alice, "", nil), 403, 404)
		check("other user", "alice cancels bob's campaign", tb.send("DELETE", "/v1/campaigns/"+bobCampaign.UID, alice, "", nil), 403, 404)
	}
	check("other user", "alice lists bob's reservations", tb.send("GET", "/v1/reservations?user=bob", alice, "", nil), 403)
	check("other user", "alice creates a user", tb.send("POST", "/v1/users", alice, "application/json", jsonBody(map[string]any{"name": "mallory", "password": "password1"})), 403)
	check("other user", "alice makes a token for bob", tb.send("POST", "/v1/users/bob/tokens", alice, "application/json", jsonBody(map[string]any{})), 403, 404)
	list := tb.send("GET", "/v1/reservations", alice, "", nil)
	tried["other user"]++
	if list.code != 200 || strings.Contains(list.body, bobRes.UID) {
		t.Errorf("alice's reservation list shows bob's %s: %s", bobRes.UID, list)
	}
	if st, node := bobState(), tb.nodeState(bobRes.Nodes[0]); st != "running" || node != "reserved" {
		t.Errorf("after alice's attempts bob's reservation is %s and its node %s %s, want running and reserved", st, bobRes.Nodes[0], node)
	}

	// Oversized bodies: 413, on the campaign limit (2 MiB) and the global one.
	big := bytes.Repeat([]byte("a"), 3<<20)
	check("oversized body", "3 MiB campaign", tb.send("POST", "/v1/campaigns", alice, "application/json",
		append(append([]byte(`{"filename":"big.hcl","source":"`), big...), []byte(`"}`)...)), 413)
	check("oversized body", "3 MiB text/x-hcl campaign", tb.send("POST", "/v1/campaigns?filename=big.hcl", alice, "text/x-hcl", big), 413)
	huge := bytes.Repeat([]byte(" "), 17<<20)
	check("oversized body", "17 MiB reservation", tb.send("POST", "/v1/sites/"+site+"/reservations", alice, "application/json", huge), 413)

	// Malformed bodies and wrong content types.
	check("malformed body", "truncated JSON", tb.send("POST", "/v1/sites/"+site+"/reservations", alice, "application/json", []byte(`{"nodes": 1, "walltime": `)), 400, 422)
	check("malformed body", "wrong types", tb.send("POST", "/v1/sites/"+site+"/reservations", alice, "application/json", []byte(`{"nodes": "many", "walltime": 3}`)), 422)
	for _, ct := range []string{"application/xml", "text/plain", "multipart/form-data; boundary=x"} {
		check("wrong content type", "reservation as "+ct, tb.send("POST", "/v1/sites/"+site+"/reservations", alice, ct, []byte(`{"nodes":1,"walltime":"1h"}`)), 415)
	}
	check("wrong content type", "users as text/x-hcl", tb.send("POST", "/v1/users", admin, "text/x-hcl", []byte(`name = "x"`)), 415)

	// Path traversal in path parameters and in file and storage paths.
	for _, p := range []string{
		"/v1/sites/..%2f..%2fetc%2fpasswd",
		"/v1/sites/" + site + "/reservations/..%2f..%2f..%2fusers",
		"/v1/nodes/node-1%2f..%2f..%2fetc/info",
		"/v1/filecatalogue/file/Li4vLi4vZXRjL3Bhc3N3ZA/attributes",          // base64 of ../../etc/passwd
		"/v1/filecatalogue/file/L2FsaWNlLy4uLy4uL2V0Yy9wYXNzd2Q/attributes", // /alice/../../etc/passwd
	} {
		a := tb.send("GET", p, alice, "", nil)
		tried["path traversal"]++
		if a.code/100 != 4 || strings.Contains(a.body, "root:x:0:0") {
			t.Errorf("path traversal: GET %s = %s, want 4xx", p, a)
		}
	}
	for _, src := range []string{
		"file:///data/files/../../etc/passwd",
		"file:///data/files/%2e%2e/%2e%2e/etc/passwd",
		"file:///etc/passwd",
		"node://node-1/../../etc/passwd",
		"https://example.org@evil.example/x", // credentials in the URL, or a host in disguise
	} {
		a := tb.send("POST", "/v1/transfers", alice, "application/json", jsonBody(map[string]any{
			"files": []map[string]any{{"sources": []string{src}, "destinations": []string{"file:///data/files/out"}}}}))
		tried["path traversal"]++
		if a.code/100 != 4 {
			t.Errorf("path traversal: transfer from %s = %s, want 4xx", src, a)
		}
	}

	// Transfer sources on hosts the configuration does not allow (the
	// engine allows no http(s) host): 403.
	for _, src := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.1:8080/v1/whoami",
		"https://evil.example/x",
	} {
		check("disallowed transfer host", src, tb.send("POST", "/v1/transfers", alice, "application/json", jsonBody(map[string]any{
			"files": []map[string]any{{"sources": []string{src}, "destinations": []string{"file:///data/files/out"}}}})), 403)
	}

	// HCL built to exhaust the parser: refused with a diagnostic, fast.
	hcl := map[string]string{
		"huge for_each": `
run "x" {
  for_each = toset([for i in range(1000000) : tostring(i)])
  nodes    = ["node-1"]
  command  = "true"
}
`,
		"huge count": `
run "x" {
  count   = 100000000
  nodes   = ["node-1"]
  command = "true"
}
`,
		"deep nesting": "output \"x\" {\n  value = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n}\n",
	}
	for what, src := range hcl {
		a := tb.send("POST", "/v1/campaigns", alice, "application/json", jsonBody(map[string]any{"filename": "hostile.hcl", "source": src}))
		check("hostile HCL", what, a, 422)
		if a.code == 422 && !strings.Contains(a.body, "hostile.hcl:") {
			t.Errorf("hostile HCL: %s: the diagnostic names no file:line:column: %s", what, short(a.body, 400))
		}
	}

	// The engine still serves, and nothing was created for alice.
	tb.must("GET", "/v1/whoami", nil, nil, 200)
	var mine struct {
		Total int `json:"total"`
	}
	tried["other user"]++
	if a := tb.send("GET", "/v1/campaigns", alice, "", nil); a.code != 200 || json.Unmarshal([]byte(a.body), &mine) != nil || mine.Total != 0 {
		t.Errorf("alice's campaigns after the hostile pass: %s (want none)", a)
	}

	total := 0
	var parts []string
	for _, k := range []string{"no credentials", "other user", "oversized body", "malformed body", "wrong content type", "path traversal", "disallowed transfer host", "hostile HCL"} {
		total += tried[k]
		parts = append(parts, fmt.Sprintf("%s %d", k, tried[k]))
	}
	record(t, sectionHostile, "bad requests against the engine container",
		"%d tried, all refused (401, 403/404, 413, 400/422, 415, 4xx, 403, 422 with file:line:col): %s", total, strings.Join(parts, ", "))
}
