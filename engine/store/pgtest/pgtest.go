// Package pgtest gives tests a real PostgreSQL: each DSN call creates a fresh
// database, dropped when the test ends.
//
// The server is the one named by GRIDFLOW_TEST_POSTGRES (a postgres:// URL
// of an admin database, as CI sets after starting a cluster) or, without it,
// a throw-away cluster this package starts once per test binary with the
// initdb and postgres binaries of /usr/lib/postgresql/*/bin (or PATH). The
// cluster listens on 127.0.0.1 only, keeps its socket and data in a temporary
// directory and, when the tests run as root, runs as the postgres system
// user. Test binaries stop it through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and the kernel stops it if the binary dies first. When no server can be
// had at all, DSN skips the test and says why; set
// GRIDFLOW_TEST_POSTGRES_REQUIRED=1 to make that a failure instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvVar names an existing server's admin database, e.g.
// postgres://postgres:secret@127.0.0.1:5432/postgres?sslmode=disable.
const EnvVar = "GRIDFLOW_TEST_POSTGRES"

// RequiredEnvVar, when set to a true value, turns "no PostgreSQL available"
// from a skip into a failure (for CI, where PostgreSQL must be tested).
const RequiredEnvVar = "GRIDFLOW_TEST_POSTGRES_REQUIRED"

// StartTimeout bounds initdb plus the server becoming ready.
var StartTimeout = 90 * time.Second

var (
	setupOnce sync.Once
	admin     *url.URL // admin database URL
	adminDB   *sql.DB
	skipMsg   string // non-empty: no server can be had, why
	setupErr  error  // a server should have been there but is broken
	cl        *cluster

	seq   atomic.Int64
	noted sync.Once
)

// DSN returns the URL of a new, empty database owned by the admin user, and
// drops the database when t ends. Tests close their connections in their own
// cleanups, which run before this one; stragglers are disconnected.
func DSN(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if skipMsg != "" {
		msg := fmt.Sprintf("pgtest: no PostgreSQL: %s; set %s to the URL of an admin database (e.g. postgres://postgres:secret@127.0.0.1:5432/postgres?sslmode=disable) to test against an existing server",
			skipMsg, EnvVar)
		if required() {
			t.Fatalf("%s (%s is set)", msg, RequiredEnvVar)
		}
		noted.Do(func() { fmt.Fprintln(os.Stderr, msg) })
		t.Skip(msg)
	}
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	name := fmt.Sprintf("gft_%d_%d_%s", os.Getpid(), seq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := adminDB.ExecContext(ctx, `CREATE DATABASE `+name)
	if err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v", name, admin.Redacted(), err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	u := *admin
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := adminDB.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	if err == nil {
		return nil
	}
	// Servers before PostgreSQL 13 have no FORCE.
	if _, terr := adminDB.ExecContext(ctx,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); terr != nil {
		return fmt.Errorf("drop database %s: %v; disconnect its sessions: %v", name, err, terr)
	}
	if _, err := adminDB.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Main runs the tests and then stops the cluster this package started, if
// any. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop closes the admin connection and stops the cluster this package
// started, removing its directory. Main calls it; later DSN calls fail.
func Stop() {
	setupOnce.Do(func() { skipMsg = "pgtest.Stop was called" })
	if adminDB != nil {
		adminDB.Close()
	}
	if cl != nil {
		cl.stop()
		cl = nil
	}
	if setupErr == nil && skipMsg == "" {
		setupErr = errors.New("pgtest.Stop was called: no more databases")
	}
}

func required() bool {
	v, _ := strconv.ParseBool(os.Getenv(RequiredEnvVar))
	return v
}

func setup() {
	if env := os.Getenv(EnvVar); env != "" {
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			setupErr = fmt.Errorf("%s=%q is not a postgres:// URL", EnvVar, env)
			return
		}
		if err := connectAdmin(u, 15*time.Second, nil); err != nil {
			setupErr = fmt.Errorf("%s=%s: %w", EnvVar, u.Redacted(), err)
		}
		return
	}
	c, skip, err := startCluster()
	switch {
	case skip != "":
		skipMsg = skip
	case err != nil:
		setupErr = fmt.Errorf("start a throw-away PostgreSQL cluster: %w (or set %s to an existing server)", err, EnvVar)
	default:
		cl = c
	}
}

// connectAdmin opens the admin database and waits until it answers, giving
// up at the deadline or as soon as exited says the server died.
func connectAdmin(u *url.URL, wait time.Duration, exited <-chan struct{}) error {
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
		u.RawQuery = q.Encode()
	}
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(4)
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			admin, adminDB = u, db
			return nil
		}
		if time.Now().After(deadline) {
			db.Close()
			return fmt.Errorf("not ready after %s: %w", wait, err)
		}
		select {
		case <-exited:
			db.Close()
			return fmt.Errorf("server exited: %w", err)
		case <-tick.C:
		}
	}
}

// cluster is a PostgreSQL server this package started.
type cluster struct {
	dir    string
	proc   *os.Process
	exited chan struct{} // closed when the server process ended
}

// startCluster runs initdb and postgres in a temporary directory. A non-empty
// skip says why it cannot even be tried.
func startCluster() (c *cluster, skip string, err error) {
	bin := findBinDir()
	if bin == "" {
		return nil, "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or PATH", nil
	}
	var cred *syscall.Credential
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		pu, err := user.Lookup("postgres")
		if err != nil {
			return nil, "running as root and there is no postgres system user to run the server as", nil
		}
		u, _ := strconv.Atoi(pu.Uid)
		g, _ := strconv.Atoi(pu.Gid)
		uid, gid = u, g
		cred = &syscall.Credential{Uid: uint32(u), Gid: uint32(g)}
	}
	sweepStale()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, "", err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, "", err
	}
	password := randomHex(16)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	if err := os.Chown(pwfile, uid, gid); err != nil {
		return nil, "", err
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("initdb in %s: %v\n%s", data, err, tail(out))
	}
	os.Remove(pwfile)

	// A free port can be taken between our probe and postgres binding it:
	// retry on that, nothing else.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		c, logText, err := startServer(bin, dir, data, port, cred)
		if err == nil {
			u := &url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
				Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres",
				RawQuery: "sslmode=disable"}
			remaining := time.Until(deadlineOf(ctx))
			if err = connectAdmin(u, remaining, c.exited); err == nil {
				return c, "", nil
			}
			c.stop()
			logText = readTail(filepath.Join(dir, "postgres.log"))
		}
		if attempt < 4 && strings.Contains(logText, "could not bind") {
			continue
		}
		return nil, "", fmt.Errorf("postgres on 127.0.0.1:%d: %v\n%s", port, err, logText)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// startServer starts postgres. The process gets SIGINT (fast shutdown) from
// the kernel when the thread that started it ends, which is when the test
// binary exits: that thread is locked and waits for the server.
func startServer(bin, dir, data string, port int, cred *syscall.Credential) (*cluster, string, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(port),
		"-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		// A throw-away cluster: durability is not wanted, speed is.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
	)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	c := &cluster{dir: dir, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine, after the server
		defer close(c.exited)
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, "", fmt.Errorf("start postgres: %w", err)
	}
	c.proc = cmd.Process
	return c, "", nil
}

// stop shuts the server down (fast, then immediate, then kill) and removes
// its directory.
func (c *cluster) stop() {
	if c.proc != nil {
		for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
			_ = c.proc.Signal(sig)
			select {
			case <-c.exited:
			case <-time.After(15 * time.Second):
				continue
			}
			break
		}
	}
	os.RemoveAll(c.dir)
}

const dirPrefix = "gridflow-pgtest-"

// sweepStale removes the directories of clusters whose test binary died
// without cleaning up (the kernel stopped their server, see startServer):
// old enough not to be starting, and with no live postmaster.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if pidText, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(pidText), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 0 &&
				syscall.Kill(pid, 0) != syscall.ESRCH {
				continue // still running, or not ours to judge
			}
		}
		os.RemoveAll(dir)
	}
}

// findBinDir returns the directory of the newest PostgreSQL server binaries.
func findBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C", "TZ=UTC"}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func readTail(path string) string {
	b, _ := os.ReadFile(path)
	return tail(b)
}

// tail keeps the end of a log, where the reason a server failed is.
func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
