package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/adler32"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/store"
)

type xferFile struct {
	FileIndex      int     `json:"file_index"`
	FileState      string  `json:"file_state"`
	Reason         string  `json:"reason"`
	SourceSurl     string  `json:"source_surl"`
	DestSurl       string  `json:"dest_surl"`
	SourceChecksum string  `json:"source_checksum"`
	DestChecksum   string  `json:"dest_checksum"`
	Filesize       int64   `json:"filesize"`
	Retry          int     `json:"retry"`
	Throughput     float64 `json:"throughput"`
}

type xferJob struct {
	JobID      string         `json:"job_id"`
	JobState   string         `json:"job_state"`
	Reason     string         `json:"reason"`
	Existed    bool           `json:"existed"`
	FileCounts map[string]int `json:"file_counts"`
	Files      []xferFile     `json:"files"`
	Detail     string         `json:"detail"`
	Errors     []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (c apiClient) submitTransfer(files []map[string]any, params map[string]any) (int, xferJob) {
	c.t.Helper()
	var j xferJob
	body := map[string]any{"files": files}
	if params != nil {
		body["params"] = params
	}
	code := c.do("POST", "/v1/transfers", body, &j)
	return code, j
}

func (c apiClient) waitTransfer(id string, within time.Duration, done func(xferJob) bool) xferJob {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var j xferJob
		if code := c.do("GET", "/v1/transfers/"+id, nil, &j); code != 200 {
			c.t.Fatalf("GET transfer %s: %d", id, code)
		}
		if done(j) {
			return j
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("transfer %s not done after %v: %+v", id, within, j)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func transferEnded(j xferJob) bool { return store.IsTransferFinal(j.JobState) }

func xfile(src any, dst string, extra map[string]any) map[string]any {
	f := map[string]any{"destinations": []string{dst}}
	switch s := src.(type) {
	case string:
		f["sources"] = []string{s}
	case []string:
		f["sources"] = s
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func adler(b []byte) string { return fmt.Sprintf("adler32:%08x", adler32.Checksum(b)) }

func sha(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

// noPartFiles fails when a temporary file of a copy is left under dir.
func noPartFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".part") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

type loopAgent struct {
	addr, dir string
	cancel    context.CancelFunc
	done      chan error
	conns     *connTracker
}

// connTracker remembers a listener's connections so that a test can cut
// them all at once, as a killed process would.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *connTracker) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

const transferAgentToken = "agent-transfer-token-0123456789"

func startLoopAgent(t *testing.T, addr, dir string) *loopAgent {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // a restarted agent takes its address back once the old socket is gone
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tl := &connTracker{Listener: l}
	a := &loopAgent{addr: l.Addr().String(), dir: dir, cancel: cancel, done: make(chan error, 1), conns: tl}
	go func() { a.done <- agent.Serve(ctx, tl, agent.Config{DataDir: dir, Token: transferAgentToken}) }()
	return a
}

func (a *loopAgent) stop() { a.cancel(); <-a.done }

// kill stops the agent the hard way: its connections drop mid-request.
func (a *loopAgent) kill() { a.conns.Close(); a.conns.cut(); a.cancel(); <-a.done }

// slowSource serves size bytes of pattern at about rate bytes per second.
func slowSource(size, rate int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		chunk := bytes.Repeat([]byte("x"), rate/10)
		for sent := 0; sent < size; {
			n := min(len(chunk), size-sent)
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			sent += n
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// TestTransfersWithRealBytes runs FTS3-style jobs against file roots, a
// local HTTP server, simulated nodes and real agents on loopback.
func TestTransfersWithRealBytes(t *testing.T) {
	store.BcryptCost = bcrypt.MinCost
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	mux := http.NewServeMux()
	httpBody := bytes.Repeat([]byte("http bytes "), 1000)
	mux.HandleFunc("/data.bin", func(w http.ResponseWriter, r *http.Request) { w.Write(httpBody) })
	mux.HandleFunc("/slow.bin", slowSource(200<<10, 20<<10))
	mux.HandleFunc("/slow-agent.bin", slowSource(3<<20, 1<<20))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	a1 := startLoopAgent(t, "127.0.0.1:0", t.TempDir())
	defer a1.stop()
	a2 := startLoopAgent(t, "127.0.0.1:0", t.TempDir())
	tb := fmt.Sprintf(`site "s" {
  cluster "a" {
    driver "sim" {
      boot_time    = "0s"
      copy_rate    = "10Gbps"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = 2
      name  = "a-%%d"
      properties {
        cores   = 8
        memory  = "32GiB"
        disk    = "100GB"
        network = "10Gbps"
      }
    }
  }
  cluster "real" {
    driver "agent" {
      agents = { "real-1" = %q, "real-2" = %q }
    }
    node "real-1" {
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
    node "real-2" {
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
  }
}
`, a1.addr, a2.addr)
	tbFile := filepath.Join(t.TempDir(), "xfer.hcl")
	if err := os.WriteFile(tbFile, []byte(tb), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, t.TempDir(), "--testbed", tbFile, "--admin-token", "gft_reservation-test-admin-token", "--agent-token", transferAgentToken,
		"--transfer-root", root, "--transfer-http-host", "127.0.0.1")
	defer d.stop(t)
	admin := apiClient{t: t, base: "http://" + d.api, token: "gft_reservation-test-admin-token"}
	users := userClients(t, admin, "xalice", "xbob")
	// run runs a subtest with clients that fail it, not the whole test.
	run := func(name string, f func(t *testing.T, alice, bob, admin apiClient)) {
		t.Run(name, func(t *testing.T) {
			with := func(c apiClient) apiClient { c.t = t; return c }
			f(t, with(users[0]), with(users[1]), with(admin))
		})
	}
	alice := users[0]

	run("verified file copies", func(t *testing.T, alice, bob, admin apiClient) {
		var files []map[string]any
		var contents [][]byte
		for i := range 3 {
			b := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
			contents = append(contents, b)
			files = append(files, xfile(write(fmt.Sprintf("v%d", i), b), "file://"+filepath.Join(dst, "v", fmt.Sprint(i)), map[string]any{"checksum": adler(b), "filesize": len(b)}))
		}
		code, j := alice.submitTransfer(files, map[string]any{"verify_checksum": true})
		if code != 201 || j.JobID == "" {
			t.Fatalf("submit: %d %+v", code, j)
		}
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished || len(j.Files) != 3 {
			t.Fatalf("job %+v", j)
		}
		for i, f := range j.Files {
			got, err := os.ReadFile(filepath.Join(dst, "v", fmt.Sprint(i)))
			if err != nil || !bytes.Equal(got, contents[i]) {
				t.Fatalf("file %d: %v", i, err)
			}
			if f.DestChecksum != adler(contents[i]) || f.SourceChecksum != f.DestChecksum || f.Filesize != int64(len(contents[i])) {
				t.Fatalf("file %d item %+v", i, f)
			}
		}
		// Another user does not see it.
		if code := bob.do("GET", "/v1/transfers/"+j.JobID, nil, nil); code != 404 {
			t.Fatalf("bob reads alice's job: %d", code)
		}
	})

	run("finished files are registered in the file catalogue", func(t *testing.T, alice, bob, admin apiClient) {
		one, two := []byte("first replica bytes"), []byte("the other file, longer than the first")
		lfn := "/xalice/lfn-run/one.dat"
		_, j := alice.submitTransfer([]map[string]any{
			xfile(write("lfn-one", one), "file://"+filepath.Join(dst, "lfn", "one"), map[string]any{"lfn": lfn, "checksum": adler(one)}),
		}, map[string]any{"verify_checksum": true})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished || j.Files[0].Reason != "" {
			t.Fatalf("job %+v", j)
		}
		var attrs struct {
			Owner    string
			Size     int64
			Checksum string
			Replicas []struct{ URL, SE string }
		}
		b64 := base64.RawURLEncoding.EncodeToString([]byte(lfn))
		if code := alice.do("GET", "/v1/filecatalogue/file/"+b64+"/attributes", nil, &attrs); code != 200 {
			t.Fatalf("attributes of %s: %d", lfn, code)
		}
		if attrs.Owner != "xalice" || attrs.Size != int64(len(one)) || attrs.Checksum != adler(one) || len(attrs.Replicas) != 1 ||
			attrs.Replicas[0].URL != "file://"+filepath.Join(dst, "lfn", "one") {
			t.Fatalf("catalogue entry of %s: %+v", lfn, attrs)
		}

		// Bob may not register under /xalice: refused at submission, naming the field.
		code, refused := bob.submitTransfer([]map[string]any{
			xfile(write("lfn-bob", one), "file://"+filepath.Join(dst, "lfn", "bob"), map[string]any{"lfn": lfn}),
		}, nil)
		if code != 403 || len(refused.Errors) != 1 || refused.Errors[0].Location != "body.files[0].lfn" {
			t.Fatalf("bob registering under /xalice: %d %+v", code, refused)
		}
		if code, bad := alice.submitTransfer([]map[string]any{
			xfile(write("lfn-bad", one), "file://"+filepath.Join(dst, "lfn", "bad"), map[string]any{"lfn": "relative/name"}),
		}, nil); code != 422 || len(bad.Errors) != 1 || bad.Errors[0].Location != "body.files[0].lfn" {
			t.Fatalf("relative lfn: %d %+v", code, bad)
		}

		// Other bytes under the same name: copied and verified, not
		// registered, and the file says why.
		_, j = alice.submitTransfer([]map[string]any{
			xfile(write("lfn-two", two), "file://"+filepath.Join(dst, "lfn", "two"), map[string]any{"lfn": lfn}),
		}, nil)
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished || !strings.Contains(j.Files[0].Reason, "not registered in the file catalogue") {
			t.Fatalf("conflicting registration: %+v", j)
		}
		alice.do("GET", "/v1/filecatalogue/file/"+b64+"/attributes", nil, &attrs)
		if len(attrs.Replicas) != 1 || attrs.Size != int64(len(one)) {
			t.Fatalf("a conflicting copy changed the catalogue entry: %+v", attrs)
		}

		// The logical name as a source: the catalogue's replicas are tried,
		// and its checksum is what the copy is verified against.
		copyDst := filepath.Join(dst, "lfn", "from-catalogue")
		_, j = alice.submitTransfer([]map[string]any{xfile("lfn:"+lfn, "file://"+copyDst, nil)}, map[string]any{"verify_checksum": "both"})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if got, _ := os.ReadFile(copyDst); j.JobState != store.TransferFinished || j.Files[0].DestChecksum != adler(one) || !bytes.Equal(got, one) {
			t.Fatalf("copy from %s: %+v", lfn, j)
		}
		if code, nf := alice.submitTransfer([]map[string]any{xfile("lfn:/xalice/lfn-run/none", "file://"+copyDst+"2", nil)}, nil); code != 422 ||
			len(nf.Errors) != 1 || nf.Errors[0].Location != "body.files[0].sources[0]" || !strings.Contains(nf.Errors[0].Message, "no file") {
			t.Fatalf("unknown lfn source: %d %+v", code, nf)
		}
		// A replica whose bytes no longer match the catalogue fails verification.
		if err := os.WriteFile(filepath.Join(dst, "lfn", "one"), bytes.ToUpper(one), 0o644); err != nil {
			t.Fatal(err)
		}
		_, j = alice.submitTransfer([]map[string]any{xfile("lfn:"+lfn, "file://"+copyDst+"3", nil)}, map[string]any{"verify_checksum": "both"})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFailed || !strings.Contains(j.Files[0].Reason, "checksum") {
			t.Fatalf("copy of a tampered replica: %+v", j)
		}
	})

	run("wrong checksum fails at verification and leaves nothing", func(t *testing.T, alice, bob, admin apiClient) {
		b := []byte("the real bytes")
		dest := filepath.Join(dst, "wrong")
		_, j := alice.submitTransfer([]map[string]any{xfile(write("wrong", b), "file://"+dest, map[string]any{"checksum": adler([]byte("other bytes"))})},
			map[string]any{"verify_checksum": "both"})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFailed || j.Files[0].FileState != store.TransferFailed || !strings.Contains(j.Files[0].Reason, "checksum") {
			t.Fatalf("job %+v", j)
		}
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Fatalf("destination exists after a failed verification: %v", err)
		}
		noPartFiles(t, dst)
	})

	run("overwrite rules", func(t *testing.T, alice, bob, admin apiClient) {
		dest := filepath.Join(dst, "exists")
		os.WriteFile(dest, []byte("old"), 0o644)
		source := write("new", []byte("new bytes"))
		_, j := alice.submitTransfer([]map[string]any{xfile(source, "file://"+dest, nil)}, nil)
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFailed || !strings.Contains(j.Files[0].Reason, "exists") {
			t.Fatalf("without overwrite: %+v", j)
		}
		if b, _ := os.ReadFile(dest); string(b) != "old" {
			t.Fatalf("destination replaced without overwrite: %q", b)
		}
		_, j = alice.submitTransfer([]map[string]any{xfile(source, "file://"+dest, nil)}, map[string]any{"overwrite": true})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if b, _ := os.ReadFile(dest); j.JobState != store.TransferFinished || string(b) != "new bytes" {
			t.Fatalf("with overwrite: %+v %q", j, b)
		}
	})

	run("sources are tried in turn", func(t *testing.T, alice, bob, admin apiClient) {
		dest := filepath.Join(dst, "failover")
		missing := "file://" + filepath.Join(src, "missing")
		_, j := alice.submitTransfer([]map[string]any{xfile([]string{missing, hs.URL + "/data.bin"}, "file://"+dest, map[string]any{"checksum": sha(httpBody)})},
			map[string]any{"verify_checksum": "target"})
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished || j.Files[0].SourceSurl != hs.URL+"/data.bin" {
			t.Fatalf("job %+v", j)
		}
		if b, _ := os.ReadFile(dest); !bytes.Equal(b, httpBody) {
			t.Fatal("wrong bytes from the second source")
		}
		// Every source missing: FAILED with the reason of each.
		_, j = alice.submitTransfer([]map[string]any{xfile([]string{missing, hs.URL + "/nothing"}, "file://"+dest+"2", nil)}, nil)
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFailed || !strings.Contains(j.Files[0].Reason, "missing") || !strings.Contains(j.Files[0].Reason, "404") {
			t.Fatalf("all sources missing: %+v", j)
		}
	})

	run("deterministic ids", func(t *testing.T, alice, bob, admin apiClient) {
		files := []map[string]any{xfile(write("det", []byte("det")), "file://"+filepath.Join(dst, "det"), nil)}
		params := map[string]any{"id_generator": "deterministic", "sid": "run-42"}
		code1, j1 := alice.submitTransfer(files, params)
		code2, j2 := alice.submitTransfer(files, params)
		if code1 != 201 || code2 != 200 || j1.JobID != j2.JobID || !j2.Existed {
			t.Fatalf("first %d %s, again %d %s existed=%v", code1, j1.JobID, code2, j2.JobID, j2.Existed)
		}
		// Bob's sid of the same name is his own job.
		code3, j3 := bob.submitTransfer([]map[string]any{xfile(write("det-b", []byte("det")), "file://"+filepath.Join(dst, "det-b"), nil)}, params)
		if code3 != 201 || j3.JobID == j1.JobID {
			t.Fatalf("bob: %d %s", code3, j3.JobID)
		}
		var list struct {
			Total int
			Items []xferJob
		}
		alice.do("GET", "/v1/transfers?dest_se=file://localhost", nil, &list)
		for _, it := range list.Items {
			if it.JobID == j3.JobID {
				t.Fatal("alice lists bob's job")
			}
		}
	})

	run("bad input", func(t *testing.T, alice, bob, admin apiClient) {
		ok := write("ok", []byte("ok"))
		cases := []struct {
			name     string
			files    []map[string]any
			params   map[string]any
			code     int
			location string
		}{
			{"unknown scheme", []map[string]any{xfile("gsiftp://x/y", "file://"+dst+"/a", nil)}, nil, 422, "body.files[0].sources[0]"},
			{"outside the roots", []map[string]any{xfile("file:///etc/passwd", "file://"+dst+"/a", nil)}, nil, 403, "body.files[0].sources[0]"},
			{"traversal", []map[string]any{xfile(ok, "file://"+dst+"/../../../tmp/x", nil)}, nil, 0, "body.files[0].destinations[0]"},
			{"http destination", []map[string]any{xfile(ok, hs.URL+"/up", nil)}, nil, 403, "body.files[0].destinations[0]"},
			{"host not allowed", []map[string]any{xfile("http://example.org/x", "file://"+dst+"/a", nil)}, nil, 403, "body.files[0].sources[0]"},
			{"bad checksum", []map[string]any{xfile(ok, "file://"+dst+"/a", map[string]any{"checksum": "crc:12"})}, nil, 422, "body.files[0].checksum"},
			{"target without checksum", []map[string]any{xfile(ok, "file://"+dst+"/a", nil)}, map[string]any{"verify_checksum": "target"}, 422, "body.files[0].checksum"},
			{"priority", []map[string]any{xfile(ok, "file://"+dst+"/a", nil)}, map[string]any{"priority": 9}, 422, "body.params.priority"},
			{"verify type", []map[string]any{xfile(ok, "file://"+dst+"/a", nil)}, map[string]any{"verify_checksum": 1234}, 422, "body.params.verify_checksum"},
			{"no files", []map[string]any{}, nil, 422, "body.files"},
			{"node not reserved", []map[string]any{xfile(ok, "node://a-1/x", nil)}, nil, 403, "body.files[0].destinations[0]"},
		}
		for _, c := range cases {
			code, j := alice.submitTransfer(c.files, c.params)
			if (c.code != 0 && code != c.code) || code < 400 || code >= 500 {
				t.Errorf("%s: %d %+v", c.name, code, j)
				continue
			}
			found := false
			for _, e := range j.Errors {
				found = found || strings.HasPrefix(e.Location, c.location)
			}
			if !found {
				t.Errorf("%s: no error at %s: %+v", c.name, c.location, j)
			}
		}
	})

	run("cancel mid-copy leaves nothing", func(t *testing.T, alice, bob, admin apiClient) {
		dest := filepath.Join(dst, "slow")
		_, j := alice.submitTransfer([]map[string]any{xfile(hs.URL+"/slow.bin", "file://"+dest, nil)}, nil)
		alice.waitTransfer(j.JobID, time.Minute, func(j xferJob) bool { return len(j.Files) == 1 && j.Files[0].Filesize > 0 })
		if code := alice.do("DELETE", "/v1/transfers/"+j.JobID, nil, nil); code != 202 {
			t.Fatalf("cancel: %d", code)
		}
		j = alice.waitTransfer(j.JobID, time.Minute, func(j xferJob) bool {
			return j.JobState == store.TransferCanceled && j.Files[0].FileState == store.TransferCanceled
		})
		time.Sleep(500 * time.Millisecond)
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Fatalf("destination after cancel: %v", err)
		}
		noPartFiles(t, dst)
		if code := alice.do("DELETE", "/v1/transfers/"+j.JobID, nil, nil); code != 409 {
			t.Fatalf("second cancel: %d", code)
		}
	})

	run("bans", func(t *testing.T, alice, bob, admin apiClient) {
		if code := alice.do("POST", "/v1/bans/storage", map[string]any{"storage": "file:///", "status": "WAIT"}, nil); code != 403 {
			t.Fatalf("a user bans: %d", code)
		}
		var ban struct{ Subject string }
		if code := admin.do("POST", "/v1/bans/storage", map[string]any{"storage": "file:///", "status": "WAIT", "message": "disk swap"}, &ban); code != 200 || ban.Subject != "file://localhost" {
			t.Fatalf("ban WAIT: %d %+v", code, ban)
		}
		_, j := alice.submitTransfer([]map[string]any{xfile(write("held", []byte("held")), "file://"+filepath.Join(dst, "held"), nil)}, nil)
		time.Sleep(time.Second)
		j = alice.waitTransfer(j.JobID, time.Minute, func(j xferJob) bool { return true })
		if j.Files[0].FileState != store.TransferOnHold {
			t.Fatalf("held file: %+v", j.Files[0])
		}
		if code := admin.do("DELETE", "/v1/bans/storage?storage=file://localhost", nil, nil); code != 204 {
			t.Fatalf("unban: %d", code)
		}
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished {
			t.Fatalf("after unban: %+v", j)
		}
		admin.do("POST", "/v1/bans/storage", map[string]any{"storage": hs.URL, "status": "CANCEL"}, nil)
		if code, j := alice.submitTransfer([]map[string]any{xfile(hs.URL+"/data.bin", "file://"+filepath.Join(dst, "banned"), nil)}, nil); code != 403 {
			t.Fatalf("submit from a banned storage: %d %+v", code, j)
		}
		admin.do("DELETE", "/v1/bans/storage?storage="+hs.URL, nil, nil)
		admin.do("POST", "/v1/bans/users", map[string]any{"user_dn": "xbob"}, nil)
		if code, _ := bob.submitTransfer([]map[string]any{xfile(write("b", []byte("b")), "file://"+filepath.Join(dst, "b"), nil)}, nil); code != 403 {
			t.Fatalf("banned user submits: %d", code)
		}
		admin.do("DELETE", "/v1/bans/users?user_dn=xbob", nil, nil)
	})

	// Node storage: alice reserves a simulated and a real node.
	for _, cluster := range []string{"a", "real"} {
		code, r := alice.reserve(map[string]any{"nodes": 1, "cluster": cluster, "walltime": "1h"})
		if code != 201 {
			t.Fatalf("reserve %s: %d %+v", cluster, code, r)
		}
		alice.waitState(r.UID, "running", time.Minute)
	}
	var mine struct{ Items []resv }
	alice.do("GET", "/v1/sites/s/reservations?state=running", nil, &mine)
	var simNode, realNode string
	for _, r := range mine.Items {
		for _, n := range r.Nodes {
			if strings.HasPrefix(n, "a-") {
				simNode = n
			} else {
				realNode = n
			}
		}
	}
	if simNode == "" || realNode == "" {
		t.Fatalf("reserved nodes: %+v", mine.Items)
	}

	run("file to sim node to agent and back", func(t *testing.T, alice, bob, admin apiClient) {
		b := bytes.Repeat([]byte("node bytes "), 50000)
		back := filepath.Join(dst, "roundtrip")
		files := []map[string]any{
			xfile(write("rt", b), "node://"+simNode+"/in/rt", nil),
			xfile("node://"+simNode+"/in/rt", "node://"+realNode+"/in/rt", nil),
			xfile("node://"+realNode+"/in/rt", "file://"+back, nil),
		}
		code, j := alice.submitTransfer(files, map[string]any{"multihop": true, "verify_checksum": "both"})
		if code != 201 {
			t.Fatalf("submit: %d %+v", code, j)
		}
		j = alice.waitTransfer(j.JobID, time.Minute, transferEnded)
		if j.JobState != store.TransferFinished {
			t.Fatalf("job %+v", j)
		}
		if got, _ := os.ReadFile(back); !bytes.Equal(got, b) {
			t.Fatal("bytes changed on the way")
		}
		for _, f := range j.Files {
			if f.DestChecksum != sha(b) {
				t.Fatalf("hop %d checksum %s, want %s", f.FileIndex, f.DestChecksum, sha(b))
			}
		}
	})

	run("a campaign moves data to its node and back", func(t *testing.T, alice, bob, admin apiClient) {
		b := bytes.Repeat([]byte("campaign data "), 20000)
		in := write("campaign-in", b)
		out := filepath.Join(dst, "campaign", "out")
		src := fmt.Sprintf(`
reservation "exp" {
  site     = "s"
  nodes    = 1
  cluster  = "a"
  walltime = "15m"
}

transfer "stage_in" {
  files {
    source      = %q
    destination = "node://${reservation.exp.nodes[0]}/data/in"
    checksum    = %q
  }
}

transfer "stage_out" {
  depends_on = [transfer.stage_in]
  files {
    source      = "node://${reservation.exp.nodes[0]}/data/in"
    destination = %q
    lfn         = "/xalice/campaign/out"
  }
}

transfer "from_catalogue" {
  depends_on = [transfer.stage_out]
  files {
    source      = "lfn:/xalice/campaign/out"
    destination = %q
  }
}

output "bytes" {
  value = transfer.stage_out.bytes
}
output "checksum" {
  value = transfer.stage_in.files[0].checksum
}
`, in, sha(b), "file://"+out, "file://"+out+".again")
		var it campaignResp
		if code := alice.do("POST", "/v1/campaigns", map[string]any{"source": src, "filename": "data.hcl"}, &it); code != 201 {
			t.Fatalf("submit: %d %+v", code, it)
		}
		done := alice.waitCampaign(it.UID, 2*time.Minute, "succeeded", "failed", "canceled")
		if done.State != "succeeded" {
			t.Fatalf("campaign %s: %s %+v", done.State, done.Reason, done.Steps)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, b) {
			t.Fatal("the campaign's data came back changed")
		}
		// stage_out registered its copy; from_catalogue copied that replica.
		var attrs struct {
			Size     int64
			Replicas []struct{ URL string }
		}
		if code := alice.do("GET", "/v1/filecatalogue/file/"+base64.RawURLEncoding.EncodeToString([]byte("/xalice/campaign/out"))+"/attributes", nil, &attrs); code != 200 ||
			attrs.Size != int64(len(b)) || len(attrs.Replicas) != 1 || attrs.Replicas[0].URL != "file://"+out {
			t.Fatalf("catalogue entry of the campaign's output: %d %+v", code, attrs)
		}
		if got, _ := os.ReadFile(out + ".again"); !bytes.Equal(got, b) {
			t.Fatal("the copy from the catalogue's replica differs")
		}
		if string(done.Outputs["bytes"]) != fmt.Sprint(len(b)) || string(done.Outputs["checksum"]) != fmt.Sprintf("%q", sha(b)) {
			t.Fatalf("outputs %s", done.Outputs)
		}
	})

	run("a campaign runs a command in its container", func(t *testing.T, alice, bob, admin apiClient) {
		src := `
reservation "svc" {
  site     = "s"
  nodes    = 1
  cluster  = "a"
  walltime = "15m"
}

container "box" {
  node  = reservation.svc.nodes[0]
  image = "busybox:latest"
  init {
    command = "sleep 600"
  }
}

run "inside" {
  container = container.box.id
  command   = "echo hello from the box"
}

output "said" {
  value = trimspace(run.inside.stdout)
}
output "node" {
  value = container.box.node
}
`
		var it campaignResp
		if code := alice.do("POST", "/v1/campaigns", map[string]any{"source": src, "filename": "box.hcl"}, &it); code != 201 {
			t.Fatalf("submit: %d %+v", code, it)
		}
		done := alice.waitCampaign(it.UID, 2*time.Minute, "succeeded", "failed", "canceled")
		if done.State != "succeeded" || string(done.Outputs["said"]) != `"hello from the box"` {
			t.Fatalf("campaign %s (%s): %s %+v", done.State, done.Reason, done.Outputs, done.Steps)
		}
		// The campaign released its reservation, and the container with it.
		var node string
		json.Unmarshal(done.Outputs["node"], &node)
		var list struct{ Items []struct{ ID string } }
		if code := admin.do("GET", "/v1/nodes/"+node+"/containers", nil, &list); code != 200 || len(list.Items) != 0 {
			t.Fatalf("containers left on %s: %+v", node, list.Items)
		}
	})

	run("optimizer", func(t *testing.T, alice, bob, admin apiClient) {
		var pairs struct {
			Items []struct {
				SourceSE  string   `json:"source_se"`
				MaxActive int      `json:"max_active"`
				Finished  int      `json:"finished"`
				Success   *float64 `json:"success_ratio"`
			}
		}
		alice.do("GET", "/v1/optimizer?source_se=file://localhost&dest_se=file://localhost", nil, &pairs)
		if len(pairs.Items) != 1 || pairs.Items[0].MaxActive < 2 || pairs.Items[0].Finished == 0 || pairs.Items[0].Success == nil {
			t.Fatalf("pair %+v", pairs)
		}
		set := map[string]any{"source_se": "file://localhost", "dest_se": "file://localhost", "active": 12, "rationale": "new disks"}
		if code := alice.do("POST", "/v1/optimizer", set, nil); code != 403 {
			t.Fatalf("user sets the optimizer: %d", code)
		}
		if code := admin.do("POST", "/v1/optimizer", set, nil); code != 200 {
			t.Fatalf("admin sets the optimizer: %d", code)
		}
		var ev struct {
			Items []struct {
				Active    int
				Rationale string
				Manual    bool
			}
		}
		alice.do("GET", "/v1/optimizer/evolution?source_se=file://localhost", nil, &ev)
		if len(ev.Items) == 0 || ev.Items[0].Active != 12 || !ev.Items[0].Manual || !strings.Contains(ev.Items[0].Rationale, "new disks") {
			t.Fatalf("evolution %+v", ev)
		}
	})

	run("events", func(t *testing.T, alice, bob, admin apiClient) {
		_, j := alice.submitTransfer([]map[string]any{xfile(write("ev", []byte("events")), "file://"+filepath.Join(dst, "ev"), nil)}, nil)
		req, _ := http.NewRequest("GET", alice.base+"/v1/transfers/"+j.JobID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+alice.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var kinds []string
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				kinds = append(kinds, strings.TrimPrefix(sc.Text(), "event: "))
			}
			if strings.Contains(sc.Text(), `"job_state":"FINISHED"`) {
				break
			}
		}
		if len(kinds) < 2 || kinds[len(kinds)-1] != "job" {
			t.Fatalf("events %v", kinds)
		}
	})

	run("an agent killed mid-copy", func(t *testing.T, alice, bob, admin apiClient) {
		code, r := admin.reserve(map[string]any{"nodes": 1, "cluster": "real", "walltime": "1h"})
		if code != 201 {
			t.Fatalf("reserve the other agent node: %d", code)
		}
		admin.waitState(r.UID, "running", time.Minute)
		var victim *loopAgent
		node := r.Nodes[0]
		if node == "real-2" {
			victim = a2
		} else {
			victim = a1
		}
		_, j := admin.submitTransfer([]map[string]any{xfile(hs.URL+"/slow-agent.bin", "node://"+node+"/killed.bin", nil)},
			map[string]any{"retry": 5, "retry_delay": 1})
		admin.waitTransfer(j.JobID, time.Minute, func(j xferJob) bool { return len(j.Files) == 1 && j.Files[0].Filesize > 0 })
		victim.kill()
		time.Sleep(time.Second)
		restarted := startLoopAgent(t, victim.addr, victim.dir)
		defer restarted.stop()
		if victim == a2 {
			a2 = restarted
		}
		j = admin.waitTransfer(j.JobID, 2*time.Minute, transferEnded)
		f := j.Files[0]
		switch {
		case j.JobState == store.TransferFinished:
			if f.Retry == 0 || f.DestChecksum != sha(bytes.Repeat([]byte("x"), 3<<20)) {
				t.Fatalf("finished without a retry or with the wrong checksum: %+v", f)
			}
		case j.JobState == store.TransferFailed:
			if f.Reason == "" {
				t.Fatalf("failed without a reason: %+v", f)
			}
		default:
			t.Fatalf("job %+v", j)
		}
		t.Logf("killed agent: %s after %d retries (%s)", j.JobState, f.Retry, f.Reason)
	})
}
