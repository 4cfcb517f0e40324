package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/embedded"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestTwoServerReplicasShareState runs the production role twice against one
// PostgreSQL and one Temporal: what one replica writes, the other serves.
func TestTwoServerReplicasShareState(t *testing.T) {
	store.BcryptCost = bcrypt.MinCost
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), FrontendAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Stop()

	const token = "gft_replica-test-admin-token-0123456789"
	start := func(extra ...string) (string, func()) {
		addr := freeAddr(t)
		rctx, rcancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- newApp().RunContext(rctx, append([]string{"gridflow", "server", "--listen", addr, "--database", dsn,
				"--temporal-address", ts.FrontendAddress(), "--admin-token", token, "--log-level", "warn"}, extra...))
		}()
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case err := <-done:
				t.Fatalf("gridflow server exited: %v", err)
			default:
			}
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("gridflow server not ready after 60s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "http://" + addr, func() {
			rcancel()
			if err := <-done; err != nil {
				t.Errorf("replica stopped with %v", err)
			}
		}
	}
	a, stopA := start("--testbed", "testdata/tiny.hcl")
	defer stopA()
	b, stopB := start("--testbed", "testdata/tiny.hcl")
	defer stopB()

	req, _ := http.NewRequest("POST", a+"/v1/projects", strings.NewReader(`{"name":"shared"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create project on replica A: %v %v", err, res)
	}
	res.Body.Close()
	code, body := get(t, b+"/v1/projects/shared", token)
	if code != 200 {
		t.Fatalf("replica B does not see the project: %d %s", code, body)
	}
	// Both loaded the same testbed: one version, not two.
	_, vs := get(t, b+"/v1/versions", token)
	if !strings.Contains(string(vs), `"total":1`) {
		t.Fatalf("two replicas with one testbed made several versions: %s", vs)
	}

	// Concurrent reservations through both replicas never overlap on a node:
	// placement runs under PostgreSQL's advisory lock.
	submitAndCheckNoOverlap(t, 60, 3600, apiClient{t: t, base: a, token: token}, apiClient{t: t, base: b, token: token})
}
