package apiclient_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridflow/gridflow/api"
	"github.com/gridflow/gridflow/apiclient"
	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/store"
)

const testbed = `
site "rennes" {
  cluster "paravance" {
    driver "sim" {}
    nodes {
      count = 3
      name  = "paravance-%d"
      properties {
        cores  = 16
        memory = "128GiB"
      }
    }
  }
}
`

// serve runs the real API over a SQLite store with a small simulated
// testbed and returns its URL and an administrator's token. (The e2e suite
// drives reservations and transfers with the client against an engine
// with Temporal and node agents.)
func serve(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gridflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(st, nil, log)
	if _, _, _, diags := eng.LoadTestbed(ctx, []byte(testbed), "small.hcl", "test", "initial"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := st.CreateUser(ctx, "admin", "admin@example.org", "admin-password", true); err != nil {
		t.Fatal(err)
	}
	tok, _, err := st.CreateToken(ctx, "admin", "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(eng, api.Options{Logger: log}))
	t.Cleanup(srv.Close)
	return srv.URL, tok
}

func bearer(tok string) apiclient.ClientOption {
	return apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+tok)
		return nil
	})
}

// TestClientAgainstTheAPI: the generated client decodes the API's real
// answers: who the caller is, the reference inventory, a node, and a
// problem+json error.
func TestClientAgainstTheAPI(t *testing.T) {
	url, tok := serve(t)
	ctx := context.Background()
	c, err := apiclient.NewClientWithResponses(url, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}

	who, err := c.WhoamiWithResponse(ctx)
	if err != nil || who.JSON200 == nil {
		t.Fatalf("whoami: %v %d %s", err, who.StatusCode(), who.Body)
	}
	if who.JSON200.Uid != "admin" || !who.JSON200.Admin || who.JSON200.AuthType == "" {
		t.Errorf("whoami: %s, want the admin user", who.Body)
	}

	sites, err := c.ListSitesWithResponse(ctx, nil)
	if err != nil || sites.JSON200 == nil {
		t.Fatalf("list-sites: %v %d %s", err, sites.StatusCode(), sites.Body)
	}
	if sites.JSON200.Total != 1 || len(*sites.JSON200.Items) != 1 || (*sites.JSON200.Items)[0].Uid != "rennes" {
		t.Errorf("list-sites: %s", sites.Body)
	}

	node, err := c.GetNodeWithResponse(ctx, "rennes", "paravance", "paravance-2", nil)
	if err != nil || node.JSON200 == nil {
		t.Fatalf("get-node: %v %d %s", err, node.StatusCode(), node.Body)
	}
	if node.JSON200.Uid != "paravance-2" || node.JSON200.State == nil || *node.JSON200.State != "free" {
		t.Errorf("get-node: %s", node.Body)
	}

	// A missing resource: the documented default answer, problem+json.
	missing, err := c.GetReservationWithResponse(ctx, "rennes", "r-none")
	if err != nil {
		t.Fatal(err)
	}
	if missing.StatusCode() != http.StatusNotFound || missing.ApplicationproblemJSONDefault == nil ||
		missing.ApplicationproblemJSONDefault.Status == nil || *missing.ApplicationproblemJSONDefault.Status != int64(http.StatusNotFound) {
		t.Errorf("get-reservation of a missing one: %d %s", missing.StatusCode(), missing.Body)
	}

	// No credentials: 401, as problem+json.
	anon, err := apiclient.NewClientWithResponses(url)
	if err != nil {
		t.Fatal(err)
	}
	res, err := anon.ListReservationsWithResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode() != http.StatusUnauthorized || res.ApplicationproblemJSONDefault == nil {
		t.Errorf("list-reservations without credentials: %d %s", res.StatusCode(), res.Body)
	}
}
