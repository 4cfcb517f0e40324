//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// A real browser: Debian's headless Chromium, driven with chromedp, looks at
// what a person opens: the API's docs page and the Temporal Web UI of the
// engine container.

const (
	uiPort     = "8233/tcp" // the engine's Temporal Web UI (gridflow dev --ui-listen)
	chromiumAt = "/usr/lib/chromium/chromium"
)

// browser starts a headless Chromium for the test. Every name it would look
// up resolves to nothing but 127.0.0.1 and localhost (host-resolver-rules),
// and its background services are off: it never reaches outside this
// machine.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("GRIDFLOW_E2E_CHROMIUM")
	if exe == "" {
		exe = chromiumAt
	}
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium at %s (%v): apt-get install chromium (scripts/e2e.sh does)", exe, err)
		}
		t.Skipf("no Chromium at %s (%v): apt-get install chromium, or run scripts/e2e.sh, which does", exe, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	t0 := time.Now()
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	t.Logf("Chromium started in %s", time.Since(t0).Round(time.Millisecond))
	return ctx
}

// screenshot keeps a picture of the page beside the build, for a person to
// look at (e2e/.build/screenshots/NAME.png).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join(".build", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: e2e/%s", p)
}

// forwardUI starts a container on the testbed's network that forwards its
// port 8233, mapped to 127.0.0.1, to the engine's Temporal Web UI: the
// engine container maps only its API port. busybox's nc serves each
// connection with a new nc to engine:8233. It returns the UI's base URL.
func (tb *testbed) forwardUI() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, image,
		network.WithNetwork([]string{"ui-forward"}, tb.nw),
		testcontainers.WithEntrypoint("/bin/nc"),
		testcontainers.WithCmd("-ll", "-p", "8233", "-e", "/bin/nc", "engine", "8233"),
		testcontainers.WithExposedPorts(uiPort),
		testcontainers.WithHostConfigModifier(hostConfig),
		testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": tb.t.Name(), "gridflow.e2e.role": "ui-forward"}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/").WithPort(uiPort).
			WithPollInterval(200*time.Millisecond).WithStartupTimeout(60*time.Second)),
	)
	if c != nil {
		testcontainers.CleanupContainer(tb.t, c, testcontainers.StopTimeout(0))
	}
	if err != nil {
		tb.t.Fatalf("the Web UI forwarder: %v", err)
	}
	ep, err := c.PortEndpoint(ctx, uiPort, "http")
	if err != nil {
		tb.t.Fatalf("the Web UI forwarder's port: %v", err)
	}
	return ep
}

// documentOperations counts the operations of the OpenAPI document the
// engine serves.
func (tb *testbed) documentOperations() (int, []string) {
	tb.t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	tb.must("GET", "/openapi.json", nil, &doc, http.StatusOK)
	n := 0
	var paths []string
	for p, item := range doc.Paths {
		paths = append(paths, p)
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				n++
			}
		}
	}
	return n, paths
}

// TestBrowserDocsAndTemporalUI: in headless Chromium, the engine's docs page
// (Swagger UI served by the binary, offline) renders one block per
// operation of the OpenAPI document, and the Temporal Web UI of the engine
// lists a running campaign's workflow as running.
func TestBrowserDocsAndTemporalUI(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 1)
	ctx := browser(t)

	// The docs page.
	want, paths := tb.documentOperations()
	t0 := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(tb.baseURL()+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(".swagger-ui .opblock"))); err != nil {
		t.Fatalf("the docs page shows no operation: %v", err)
	}
	var shown int
	eventually(t, "every operation on the docs page", 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.swagger-ui .opblock').length`))
		if err != nil {
			return false, err.Error()
		}
		shown = n
		return shown == want, fmt.Sprintf("%d operation blocks shown, the document has %d", shown, want)
	})
	rendered := time.Since(t0)
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.swagger-ui .info .title') || {}).innerText || ''`))
	if err != nil {
		t.Fatal(err)
	}
	pathsShown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('.swagger-ui .opblock-summary-path')).map(e => e.getAttribute('data-path'))`))
	if err != nil {
		t.Fatal(err)
	}
	shownSet := map[string]bool{}
	for _, p := range pathsShown {
		shownSet[p] = true
	}
	for _, p := range paths {
		if !shownSet[p] {
			t.Errorf("the docs page does not show %s", p)
		}
	}
	if !strings.Contains(title, "Gridflow API") {
		t.Errorf("the docs page's title is %q, want Gridflow API", title)
	}
	screenshot(t, ctx, "docs")
	t.Logf("docs page: %d operations on %d paths rendered in %s (title %q)", shown, len(paths), rendered.Round(time.Millisecond), title)
	record(t, sectionInvariant, "docs page in Chromium renders the OpenAPI document",
		"%d/%d operations, %d paths, in %s", shown, want, len(shownSet), rendered.Round(time.Millisecond))

	// A campaign that keeps running while the browser looks.
	c := tb.submitCampaign("browser.hcl", `
reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = 1
  walltime = "10m"
}

run "wait" {
  nodes   = reservation.r.nodes
  command = "sleep 300"
}
`, nil)
	tb.waitStepRunning(c.UID, "run.wait", time.Minute)
	ui := tb.forwardUI()

	// The Web UI lists it; the list is read again until it does
	// (visibility lags the start by a moment).
	t1 := time.Now()
	list := ui + "/namespaces/default/workflows"
	has := fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, c.UID)
	eventually(t, "the campaign's workflow in the Temporal Web UI", time.Minute, 2*time.Second, func() (bool, string) {
		err := chromedp.Do(ctx, chromedp.Navigate(list),
			chromedp.Poll[chromedp.Void](has, chromedp.WithPollingTimeout(5*time.Second)))
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
			return false, fmt.Sprintf("%v; page: %s", err, short(strings.Join(strings.Fields(text), " "), 400))
		}
		return true, ""
	})
	// The row of the campaign's workflow: its status and type.
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		for (const e of document.querySelectorAll('tr, [role=row]')) {
			if (e.innerText.includes(%q)) return e.innerText;
		}
		return '';
	})()`, c.UID)))
	if err != nil {
		t.Fatal(err)
	}
	listed := time.Since(t1)
	screenshot(t, ctx, "temporal-ui")
	row = strings.Join(strings.Fields(row), " ")
	t.Logf("Temporal Web UI lists %s in %s: %q", c.UID, listed.Round(time.Millisecond), row)
	if !strings.Contains(row, "RUNNING") || !strings.Contains(row, "Campaign") {
		t.Errorf("the Web UI's row of %s does not show a running Campaign workflow: %q", c.UID, row)
	}

	// The workflow's own page opens too: its id, status and type.
	if err := chromedp.Do(ctx, chromedp.Navigate(ui+"/namespaces/default/workflows/"+c.UID),
		chromedp.Poll[chromedp.Void](has, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("the workflow's page in the Web UI: %v", err)
	} else if page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err != nil ||
		!strings.Contains(page, "RUNNING") || !strings.Contains(page, "Campaign") {
		t.Errorf("the workflow's page does not show a running Campaign (%v): %s", err, short(strings.Join(strings.Fields(page), " "), 400))
	}
	screenshot(t, ctx, "temporal-ui-workflow")
	tb.must("DELETE", "/v1/campaigns/"+c.UID, nil, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	record(t, sectionInvariant, "Temporal Web UI in Chromium lists a running campaign",
		"workflow %s listed as Running in %s; its page opens", c.UID, listed.Round(time.Millisecond))
}
