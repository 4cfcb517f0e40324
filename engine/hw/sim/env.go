package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

// Install writes an environment (deploy_time), then boots into it (boot_time)
// and returns once the node is up. When that boot hangs (HangBoots), it
// returns once the boot time has passed, with what the node reported as it
// rebooted into the image, as an agent answers before its reboot completes:
// noticing that the node does not come back is the caller's boot check. A
// power cycle during the write fails it, and leaves no bootable environment.
func (d *Driver) Install(ctx context.Context, uid string, env hw.EnvSpec) (hw.NodeInfo, error) {
	const op = "install environment"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.NodeInfo{}, err
	}
	if env.Name == "" {
		return hw.NodeInfo{}, hw.Errorf(op, uid, hw.Invalid, "the environment has no name")
	}
	want, err := checksum.Parse(env.Checksum)
	if err != nil {
		return hw.NodeInfo{}, hw.Errorf(op, uid, hw.Invalid, "environment %s: %v", env.Name, err)
	}
	n.mu.Lock()
	if err := n.readyLocked(op); err != nil {
		n.mu.Unlock()
		return hw.NodeInfo{}, err
	}
	if n.env != nil && n.env.Name == env.Name && n.env.Checksum == want.String() {
		info := n.infoLocked(time.Now())
		n.mu.Unlock()
		return info, nil
	}
	n.mu.Unlock()

	if err := d.verifyImage(ctx, n, env, want); err != nil {
		return hw.NodeInfo{}, err
	}

	n.mu.Lock()
	if err := n.readyLocked(op); err != nil {
		n.mu.Unlock()
		return hw.NodeInfo{}, err
	}
	r := n.drawLocked()
	fails := d.cfg.FailureRate > 0 && r.Float64() < d.cfg.FailureRate
	calls := n.calls
	now := time.Now()
	n.stopAllLocked(now)
	n.env = nil // the old system is being overwritten
	deploy := d.cfg.DeployTime
	if fails {
		deploy = time.Duration(r.Float64() * float64(deploy))
	}
	n.busyUntil, n.busyWhat = now.Add(deploy), "deploying"
	cycles := n.cycles
	n.mu.Unlock()

	if err := hw.Sleep(ctx, deploy); err != nil {
		return hw.NodeInfo{}, ctxErr(op, uid, err)
	}
	if fails {
		return hw.NodeInfo{}, &hw.Error{Op: op, Node: uid, Kind: hw.Failed, Retryable: true,
			Err: fmt.Errorf("injected fault: the node failed after %s of deployment and has no bootable environment (call %d, seed %d, failure rate %g)",
				deploy.Round(time.Millisecond), calls, d.cfg.Seed, d.cfg.FailureRate)}
	}
	n.mu.Lock()
	if n.cycles != cycles {
		n.mu.Unlock()
		return hw.NodeInfo{}, &hw.Error{Op: op, Node: uid, Kind: hw.Failed, Retryable: true,
			Err: fmt.Errorf("the node was power-cycled while environment %s was written: it has no bootable environment", env.Name)}
	}
	now = time.Now()
	n.generation++
	n.env = &hw.Environment{Name: env.Name, Checksum: want.String(), InstalledAt: now}
	n.busyUntil, n.busyWhat = now.Add(d.cfg.BootTime), "booting"
	n.bootTime = n.busyUntil
	n.startBootLocked()
	if n.hung {
		info := n.infoLocked(now)
		n.mu.Unlock()
		if err := hw.Sleep(ctx, d.cfg.BootTime); err != nil {
			return hw.NodeInfo{}, ctxErr(op, uid, err)
		}
		return info, nil
	}
	n.mu.Unlock()
	return n.waitBoot(ctx, op)
}

// verifyImage checks the checksum of an environment image.
func (d *Driver) verifyImage(ctx context.Context, n *node, env hw.EnvSpec, want checksum.Sum) error {
	const op = "install environment"
	mismatch := func(got string) error {
		return hw.Errorf(op, n.uid, hw.ChecksumMismatch, "environment %s has checksum %s, not the expected %s; nothing was installed", env.Name, got, want)
	}
	if pub, ok := hw.LookupPublicEnvironment(env.Name); ok && (env.URL == "" || env.URL == pub.URL) {
		if pub.Checksum != want.String() {
			return mismatch(pub.Checksum)
		}
		return nil
	}
	u, err := url.Parse(env.URL)
	if err != nil || env.URL == "" {
		return hw.Errorf(op, n.uid, hw.Invalid, "environment %s: %q is neither a public environment nor an image URL (http(s):// or file:<path>)", env.Name, env.URL)
	}
	switch u.Scheme {
	case "file":
		p := strings.TrimPrefix(u.Path, "/")
		if p == "" {
			p = u.Opaque
		}
		fi, err := d.Stat(ctx, n.uid, p, want.Algorithm)
		if err != nil {
			return err
		}
		if fi.Checksum != want.String() {
			return mismatch(fi.Checksum)
		}
		return nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.URL, nil)
		if err != nil {
			return hw.Errorf(op, n.uid, hw.Invalid, "environment %s: %v", env.Name, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctxErr(op, n.uid, ctx.Err())
			}
			return hw.Errorf(op, n.uid, hw.Unavailable, "download %s: %v", env.URL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			kind := hw.Unavailable
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
				kind = hw.NotFound
			}
			return hw.Errorf(op, n.uid, kind, "download %s: %s", env.URL, resp.Status)
		}
		got, _, err := checksum.Of(&rateReader{r: resp.Body, t: newThrottle(ctx, d.cfg.CopyRate)}, want.Algorithm)
		if err != nil {
			if ctx.Err() != nil {
				return ctxErr(op, n.uid, ctx.Err())
			}
			return hw.Errorf(op, n.uid, hw.Unavailable, "download %s: %v", env.URL, err)
		}
		if !got.Equal(want) {
			return mismatch(got.String())
		}
		return nil
	}
	return hw.Errorf(op, n.uid, hw.Invalid, "environment %s: unsupported URL %q: use http(s):// or file:<path>", env.Name, env.URL)
}

// rateReader reads at the throttle's rate.
type rateReader struct {
	r io.Reader
	t *throttle
}

func (r *rateReader) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := r.r.Read(p)
	if werr := r.t.wait(n); werr != nil {
		return n, werr
	}
	return n, err
}
