package embedded

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/primitives"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const taskQueue = "embedded-test"

func greet(_ context.Context, name string) (string, error) { return "hello " + name, nil }

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out)
	return out, err
}

func sleepWorkflow(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	return greetWorkflow(ctx, "after sleep")
}

// EMBEDDED_TEST_SERVER_LOG=info (or debug) shows the server's own logs in the tests.
var testServerLogLevel = os.Getenv("EMBEDDED_TEST_SERVER_LOG")

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startServer(t testing.TB, dir string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{
		DataDir:         dir,
		FrontendAddress: "127.0.0.1:0",
		UIAddress:       "127.0.0.1:0",
		Logger:          testLogger(),
		ServerLogLevel:  testServerLogLevel,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// startWorker dials s and runs a worker with the test workflows; the returned func
// stops both.
func startWorker(t testing.TB, s *Server) (client.Client, func()) {
	t.Helper()
	c, err := client.Dial(s.ClientOptions())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(sleepWorkflow)
	w.RegisterActivity(greet)
	if err := w.Start(); err != nil {
		c.Close()
		t.Fatalf("worker: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			w.Stop()
			c.Close()
		}
	}
	t.Cleanup(stop)
	return c, stop
}

func runGreet(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, greetWorkflow, name)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if out != "hello "+name {
		t.Fatalf("%s returned %q", id, out)
	}
}

func historyEvents(t *testing.T, c client.Client, id string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		events = append(events, ev)
	}
	return events
}

// find returns the first event of type want, or nil.
func find(events []*historypb.HistoryEvent, want enumspb.EventType) *historypb.HistoryEvent {
	for _, ev := range events {
		if ev.GetEventType() == want {
			return ev
		}
	}
	return nil
}

func contains(events []*historypb.HistoryEvent, want enumspb.EventType) bool {
	return find(events, want) != nil
}

// checkTimer checks, by the server's event times, that the workflow's timer fired no
// earlier than d after it started, and returns how long after and when it fired.
func checkTimer(t *testing.T, c client.Client, id string, d time.Duration) (time.Duration, time.Time) {
	t.Helper()
	h := historyEvents(t, c, id)
	started, fired := find(h, enumspb.EVENT_TYPE_TIMER_STARTED), find(h, enumspb.EVENT_TYPE_TIMER_FIRED)
	if started == nil || fired == nil {
		t.Fatalf("%s: history lacks TimerStarted or TimerFired", id)
	}
	got := fired.GetEventTime().AsTime().Sub(started.GetEventTime().AsTime())
	if got < d-10*time.Millisecond {
		t.Fatalf("%s: timer fired %v after it started, before the %v sleep was over", id, got, d)
	}
	return got, fired.GetEventTime().AsTime()
}

func vmRSS(t testing.TB) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	// A 0-byte database file (left by an interrupted first run, or touched by hand) must
	// still get the schema: the decision is made on the tables, not the file.
	if err := os.WriteFile(filepath.Join(dir, dbFileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	goroutinesBefore := runtime.NumGoroutine()
	began := time.Now()
	s1 := startServer(t, dir)
	if _, err := os.Stat(filepath.Join(dir, dbFileName+"-wal")); err != nil {
		t.Fatalf("database not in WAL mode: %v", err)
	}
	t.Logf("first start (schema setup): ready after %v (Start reports %v); VmRSS after start %s",
		time.Since(began).Round(time.Millisecond), s1.ReadyAfter().Round(time.Millisecond), vmRSS(t))
	if !strings.HasPrefix(s1.UIURL(), "http://127.0.0.1:") || !strings.HasPrefix(s1.FrontendAddress(), "127.0.0.1:") {
		t.Fatalf("addresses: frontend %q ui %q", s1.FrontendAddress(), s1.UIURL())
	}

	c1, stop1 := startWorker(t, s1)
	began = time.Now()
	runGreet(t, c1, "wf-1", "first")
	t.Logf("wf-1 ran in %v", time.Since(began).Round(time.Millisecond))

	// The namespace got the configured retention.
	ns, err := c1.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != DefaultRetention {
		t.Fatalf("retention %v, want %v", got, DefaultRetention)
	}

	// The UI serves its HTML page.
	resp, err := http.Get(s1.UIURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("UI answered %s %q: %.200s", resp.Status, resp.Header.Get("Content-Type"), body)
	}

	// A second server on the same data directory is refused while the first runs.
	if _, err := Start(context.Background(), Config{DataDir: dir, FrontendAddress: "127.0.0.1:0", Logger: testLogger()}); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second Start on the same DataDir: got %v, want ErrDataDirInUse", err)
	}

	stop1()
	stopBegan := time.Now()
	if err := s1.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %v", time.Since(stopBegan).Round(time.Millisecond))
	if err := s1.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// The server leaves ~100 goroutines behind (its parent-close-policy worker is never
	// stopped in server v1.32.0); harmless for `gridflow dev`, which exits after Stop.
	t.Logf("goroutines: %d before Start, %d after Stop", goroutinesBefore, runtime.NumGoroutine())
	began = time.Now()
	s2 := startServer(t, dir)
	t.Logf("restart on existing DB: ready after %v; VmRSS %s", time.Since(began).Round(time.Millisecond), vmRSS(t))
	if s2.ClusterID() != s1.ClusterID() {
		t.Fatalf("cluster id changed across restart: %s -> %s", s1.ClusterID(), s2.ClusterID())
	}
	c2, _ := startWorker(t, s2)
	desc, err := c2.DescribeWorkflowExecution(context.Background(), "wf-1", "")
	if err != nil {
		t.Fatalf("describe wf-1 after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("wf-1 status after restart: %v", st)
	}
	if h := historyEvents(t, c2, "wf-1"); !contains(h, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) ||
		!contains(h, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) {
		t.Fatalf("wf-1 history after restart: %v", h)
	}
	began = time.Now()
	runGreet(t, c2, "wf-2", "second")
	t.Logf("wf-2 after restart ran in %v", time.Since(began).Round(time.Millisecond))

	runtime.GC()
	t.Logf("VmRSS after two workflows and GC: %s", vmRSS(t))
}

func TestDurableSleepAcrossRestart(t *testing.T) {
	const sleep = 4 * time.Second
	dir := t.TempDir()
	s1 := startServer(t, dir)
	c1, stop1 := startWorker(t, s1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c1.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sleepy", TaskQueue: taskQueue}, sleepWorkflow, sleep); err != nil {
		t.Fatal(err)
	}
	// Wait for the durable timer to be recorded, then stop everything mid-sleep.
	deadline := time.Now().Add(20 * time.Second)
	for !contains(historyEvents(t, c1, "sleepy"), enumspb.EVENT_TYPE_TIMER_STARTED) {
		if time.Now().After(deadline) {
			t.Fatal("timer never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	timerStarted := time.Now()
	stop1()
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAfter := time.Since(timerStarted)
	if stoppedAfter >= sleep {
		t.Logf("warning: stop took %v, longer than the sleep; the timer may have fired before the stop", stoppedAfter)
	}

	restarted := time.Now()
	s2 := startServer(t, dir)
	t.Logf("stopped %v into a %v sleep; restarted %v into it", stoppedAfter.Round(time.Millisecond), sleep,
		time.Since(timerStarted).Round(time.Millisecond))
	c2, _ := startWorker(t, s2)
	var out string
	if err := c2.GetWorkflow(ctx, "sleepy", "").Get(ctx, &out); err != nil {
		t.Fatalf("sleepy after restart: %v", err)
	}
	if out != "hello after sleep" {
		t.Fatalf("sleepy returned %q", out)
	}
	fired, firedAt := checkTimer(t, c2, "sleepy", sleep)
	if firedAt.Before(restarted) {
		t.Fatalf("the timer fired at %v, before the restart at %v: the stop was not mid-sleep", firedAt, restarted)
	}
	t.Logf("sleepy completed; its timer fired %v after it started (server time)", fired.Round(time.Millisecond))
}

func TestPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	addr := taken.Addr().String()
	port := taken.Addr().(*net.TCPAddr).Port

	cases := []struct {
		purpose string
		cfg     Config
	}{
		{PurposeFrontend, Config{FrontendAddress: addr, UIAddress: "127.0.0.1:0"}},
		{PurposeUI, Config{FrontendAddress: "127.0.0.1:0", UIAddress: addr}},
		{PurposeFrontendHTTP, Config{FrontendAddress: "127.0.0.1:0", FrontendHTTPPort: port}},
		{PurposeHistory, Config{FrontendAddress: "127.0.0.1:0", HistoryPort: port}},
		{PurposeMatching, Config{FrontendAddress: "127.0.0.1:0", MatchingPort: port}},
		{PurposeWorker, Config{FrontendAddress: "127.0.0.1:0", WorkerPort: port}},
	}
	for _, tc := range cases {
		t.Run(tc.purpose, func(t *testing.T) {
			dir := t.TempDir()
			tc.cfg.DataDir = dir
			tc.cfg.Logger = testLogger()
			s, err := Start(context.Background(), tc.cfg)
			if err == nil {
				_ = s.Stop()
				t.Fatal("Start succeeded on a taken port")
			}
			var pe *PortInUseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %T %v, want *PortInUseError", err, err)
			}
			if pe.Purpose != tc.purpose || pe.Address != addr {
				t.Fatalf("got purpose %q address %q, want %q %q", pe.Purpose, pe.Address, tc.purpose, addr)
			}
			if !strings.Contains(err.Error(), tc.purpose) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("message %q names neither purpose nor address", err)
			}
			// Nothing was started and the data directory was released.
			release, err := lockDataDir(filepath.Join(dir, lockFileName))
			if err != nil {
				t.Fatalf("data dir still locked: %v", err)
			}
			release()
			if _, err := os.Stat(filepath.Join(dir, dbFileName)); !os.IsNotExist(err) {
				t.Fatalf("database created despite the port error: %v", err)
			}
		})
	}

	t.Run("same port twice", func(t *testing.T) {
		_, err := Start(context.Background(), Config{DataDir: t.TempDir(), FrontendAddress: "127.0.0.1:0",
			HistoryPort: 41234, MatchingPort: 41234, Logger: testLogger()})
		var pe *PortInUseError
		if !errors.As(err, &pe) || pe.Purpose != PurposeMatching {
			t.Fatalf("got %v, want *PortInUseError for matching", err)
		}
	})
}

func TestEnsureSchema(t *testing.T) {
	dir := t.TempDir()

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if created, err := ensureSchema(empty); err != nil || !created {
		t.Fatalf("0-byte file: created=%v err=%v", created, err)
	}
	if created, err := ensureSchema(empty); err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureSchema(garbage); err == nil {
		t.Fatal("garbage file accepted")
	}

	partial := filepath.Join(dir, "partial.db")
	db, err := sql.Open("sqlite", "file:"+partial+"?mode=rwc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE namespaces (id INT)"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := ensureSchema(partial); err == nil || !strings.Contains(err.Error(), "part of the Temporal schema") {
		t.Fatalf("partial schema: %v", err)
	}
}

func TestLoadOrCreateState(t *testing.T) {
	dir := t.TempDir()
	a, err := loadOrCreateState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !validUUID(a.ClusterID) {
		t.Fatalf("cluster id %q", a.ClusterID)
	}
	b, err := loadOrCreateState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.ClusterID != b.ClusterID {
		t.Fatalf("cluster id not kept: %s then %s", a.ClusterID, b.ClusterID)
	}
}

// BenchmarkStartReady measures Start until ready on an existing database (the usual
// `gridflow dev` restart). Stop is not timed.
func BenchmarkStartReady(b *testing.B) {
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := Start(context.Background(), Config{DataDir: dir, FrontendAddress: "127.0.0.1:0", UIAddress: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Start(context.Background(), Config{DataDir: dir, FrontendAddress: "127.0.0.1:0", UIAddress: "127.0.0.1:0", Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// TestHelperProcess is the child process of TestCrashRecovery: it runs a server on
// $EMBEDDED_TEST_CHILD_DIR, prints its frontend address and waits to be killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("EMBEDDED_TEST_CHILD_DIR")
	if dir == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	s, err := Start(context.Background(), Config{DataDir: dir, FrontendAddress: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", s.FrontendAddress())
	select {}
}

// TestCrashRecovery kills -9 a process running the server while a workflow sleeps, then
// starts a server on the same data directory: the lock is free again, the database is
// intact and the workflow completes.
func TestCrashRecovery(t *testing.T) {
	const sleep = 3 * time.Second
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "EMBEDDED_TEST_CHILD_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill() // SIGKILL
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") || strings.HasPrefix(sc.Text(), "ERROR ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	var addr string
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "READY ") {
			t.Fatalf("child did not start: %q", line)
		}
		addr = strings.TrimPrefix(line, "READY ")
	case <-time.After(2 * time.Minute):
		t.Fatal("child did not start in time")
	}

	opts := client.Options{HostPort: addr, Namespace: DefaultNamespace, Logger: quietSDKLogger(testLogger())}
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(sleepWorkflow)
	w.RegisterActivity(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "crash-sleepy", TaskQueue: taskQueue}, sleepWorkflow, sleep); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !contains(historyEvents(t, c, "crash-sleepy"), enumspb.EVENT_TYPE_TIMER_STARTED) {
		if time.Now().After(deadline) {
			t.Fatal("timer never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	timerStarted := time.Now()
	kill()
	w.Stop()
	c.Close()

	s := startServer(t, dir)
	t.Logf("killed -9 mid-sleep; restarted %v after the timer started", time.Since(timerStarted).Round(time.Millisecond))
	c2, _ := startWorker(t, s)
	var res string
	if err := c2.GetWorkflow(ctx, "crash-sleepy", "").Get(ctx, &res); err != nil {
		t.Fatalf("crash-sleepy after restart: %v", err)
	}
	if res != "hello after sleep" {
		t.Fatalf("crash-sleepy returned %q", res)
	}
	fired, _ := checkTimer(t, c2, "crash-sleepy", sleep)
	t.Logf("crash-sleepy completed; its timer fired %v after it started (server time)", fired.Round(time.Millisecond))
}

// A failure after the UI started (here a database with part of the schema) stops the
// UI, releases the data directory and returns an error; the process goes on.
func TestStartFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, dbFileName)+"?mode=rwc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE namespaces (id INT)"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uiAddr := l.Addr().String()
	_ = l.Close()

	_, err = Start(context.Background(), Config{DataDir: dir, FrontendAddress: "127.0.0.1:0", UIAddress: uiAddr, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "part of the Temporal schema") {
		t.Fatalf("got %v, want the partial schema error", err)
	}
	l, err = net.Listen("tcp", uiAddr)
	if err != nil {
		t.Fatalf("UI port still bound after the failed Start: %v", err)
	}
	_ = l.Close()
	release, err := lockDataDir(filepath.Join(dir, lockFileName))
	if err != nil {
		t.Fatalf("data dir still locked: %v", err)
	}
	release()
}

// A server Fatal log while starting becomes an error (a *PortInUseError for a listener)
// instead of ending the process.
func TestFatalWhileStartingIsAnError(t *testing.T) {
	var starting atomic.Bool
	starting.Store(true)
	lvl := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	logger := tlog.NewZapLogger(newServerZapLogger(testLogger(), lvl, &starting))
	err := recoverFatal(func() error {
		logger.Fatal("Failed to start gRPC listener", tag.Service(primitives.HistoryService), tag.Address("127.0.0.1:1"))
		return nil
	})
	var pe *PortInUseError
	if !errors.As(err, &pe) || pe.Purpose != PurposeHistory || pe.Address != "127.0.0.1:1" {
		t.Fatalf("got %v, want *PortInUseError for history at 127.0.0.1:1", err)
	}
	err = recoverFatal(func() error {
		logger.Fatal("something else")
		return nil
	})
	var fe *fatalError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want *fatalError", err)
	}
}
