//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

// deployNode is one node of a deployment item.
type deployNode struct {
	Node   string `json:"node"`
	State  string `json:"state"`
	Step   string `json:"step"`
	Reason string `json:"reason"`
	Run    int    `json:"run"`
}

// deployment is the part of a deployment item the tests read.
type deployment struct {
	UID   string       `json:"uid"`
	State string       `json:"state"`
	Run   int          `json:"run"`
	Nodes []deployNode `json:"nodes"`
}

func (d deployment) node(name string) deployNode {
	for _, n := range d.Nodes {
		if n.Node == name {
			return n
		}
	}
	return deployNode{}
}

func (d deployment) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s run %d:", d.UID, d.State, d.Run)
	for _, n := range d.Nodes {
		fmt.Fprintf(&b, " %s=%s@%s(run %d", n.Node, n.State, n.Step, n.Run)
		if n.Reason != "" {
			fmt.Fprintf(&b, ": %s", short(n.Reason, 100))
		}
		b.WriteString(")")
	}
	return b.String()
}

// environmentArchive is a gzip'd tar of a tree with an incompressible file of
// size bytes, and its sha256.
func environmentArchive(t *testing.T, size int) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	blob := make([]byte, size)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"etc/os-release", []byte("ID=e2e\nVERSION_ID=1\n")}, {"var/blob", blob}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// serveArchive starts a web server container (busybox httpd, from the suite's
// image) on the testbed's network, at http://web:8000/, serving the archive.
func (tb *testbed) serveArchive(name string, archive []byte) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, image,
		network.WithNetwork([]string{"web"}, tb.nw),
		testcontainers.WithEntrypoint("/bin/busybox", "httpd", "-f", "-p", "8000", "-h", "/www"),
		testcontainers.WithCmd(),
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: bytes.NewReader(archive), ContainerFilePath: "/www/" + name, FileMode: 0o644}),
		testcontainers.WithHostConfigModifier(hostConfig),
		testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": tb.t.Name(), "gridflow.e2e.role": "web"}),
	)
	if c != nil {
		testcontainers.CleanupContainer(tb.t, c, testcontainers.StopTimeout(0))
	}
	if err != nil {
		tb.t.Fatalf("web server: %v", err)
	}
	return "http://web:8000/" + name
}

func (tb *testbed) getDeployment(id string) deployment {
	tb.t.Helper()
	var d deployment
	tb.must("GET", "/v1/sites/"+site+"/deployments/"+id, nil, &d, 200)
	return d
}

func deploymentEnded(d deployment) bool {
	return d.State == "terminated" || d.State == "canceled" || d.State == "error"
}

// TestDeploymentAgentKilledMidWrite: four agent containers deploy an
// environment served by a web server on the network; one agent container is
// stopped while it writes the image (it is held to a sliver of a CPU, so
// that its write lasts). Exactly that node ends KO at write and the other
// three OK; once its container runs again, retry redeploys only it, OK.
func TestDeploymentAgentKilledMidWrite(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 4)
	archive, sum := environmentArchive(t, 48<<20)
	url := tb.serveArchive("e2e-env.tar.gz", archive)
	tb.must("POST", "/v1/environments", map[string]any{"name": "e2e-env", "version": "1", "url": url, "checksum": sum,
		"size": len(archive), "visibility": "public"}, nil, 201)

	var r reservation
	tb.must("POST", "/v1/sites/"+site+"/reservations", map[string]any{"nodes": 4, "cluster": cluster, "walltime": "30m", "types": []string{"deploy"}}, &r, 201)
	eventually(t, "the reservation running", time.Minute, 200*time.Millisecond, func() (bool, string) {
		code, body, err := tb.call("GET", "/v1/sites/"+site+"/reservations/"+r.UID, nil, &r)
		return err == nil && code == 200 && r.State == "running", fmt.Sprintf("%d %s %v", code, short(string(body), 200), err)
	})

	victim := "node-4"
	tb.throttleAgent(victim, 0.02)
	var d deployment
	tb.must("POST", "/v1/sites/"+site+"/deployments", map[string]any{"reservation": r.UID, "environment": "e2e-env@1", "retries": 1}, &d, 201)
	eventually(t, victim+" writing the image", 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		d = tb.getDeployment(d.UID)
		n := d.node(victim)
		return n.State == "processing" && n.Step == "write", d.String()
	})
	tb.stopAgent(victim)
	stopped := time.Now()
	t.Logf("stopped %s while it wrote the image: %s", victim, d)

	eventually(t, "the deployment ended", 5*time.Minute, time.Second, func() (bool, string) {
		d = tb.getDeployment(d.UID)
		return deploymentEnded(d), d.String()
	})
	t.Logf("ended %s after the stop: %s", time.Since(stopped).Round(time.Second), d)
	if d.State != "terminated" {
		t.Fatalf("deployment %s", d)
	}
	for _, n := range d.Nodes {
		switch {
		case n.Node == victim && (n.State != "ko" || n.Step != "write" || !strings.Contains(n.Reason, "unreachable")):
			t.Errorf("the stopped node: %+v, want ko at write, unreachable", n)
		case n.Node != victim && n.State != "ok":
			t.Errorf("node %s: %+v, want ok", n.Node, n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The node comes back (at full speed); retry redeploys it alone.
	tb.startAgent(victim)
	tb.throttleAgent(victim, 2)
	eventually(t, victim+" answering again", 2*time.Minute, time.Second, func() (bool, string) {
		st := tb.nodeState(victim)
		return st != "down", st
	})
	var retried deployment
	tb.must("POST", "/v1/sites/"+site+"/deployments/"+d.UID+"/retry", nil, &retried, 202)
	eventually(t, "the retry ended", 3*time.Minute, time.Second, func() (bool, string) {
		retried = tb.getDeployment(d.UID)
		return retried.Run == 2 && deploymentEnded(retried), retried.String()
	})
	for _, n := range retried.Nodes {
		switch {
		case n.Node == victim && (n.State != "ok" || n.Run != 2):
			t.Errorf("after retry, %s: %+v, want ok in run 2", victim, n)
		case n.Node != victim && (n.State != "ok" || n.Run != 1):
			t.Errorf("after retry, %s: %+v, want ok, untouched in run 1", n.Node, n)
		}
	}
	record(t, sectionFault, "agent container stopped mid-deployment (writing a 48 MiB image)",
		"%s KO at write (unreachable), the 3 others OK, %s after the stop; retry after it was back: %s OK in run 2, others kept run 1",
		victim, time.Since(stopped).Round(time.Second), victim)
}
