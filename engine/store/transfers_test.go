package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func transferFiles(n int, src, dst string) []TransferFile {
	out := make([]TransferFile, n)
	for i := range out {
		out[i] = TransferFile{Sources: []string{fmt.Sprintf("%s/f%d", src, i)}, Destination: fmt.Sprintf("%s/f%d", dst, i), SourceSE: src, DestSE: dst, FileSize: 100}
	}
	return out
}

func TestTransferJobLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		j := TransferJob{ID: "job-1", Owner: "alice", Priority: 3, Verify: "both", Retry: 2, RetryDelay: 5 * time.Second, SID: "s1", SourceSE: "file://a", DestSE: "file://b"}
		got, existed, err := s.InsertTransferJob(ctx, j, transferFiles(5, "file://a", "file://b"), nil)
		must(t, err, "InsertTransferJob")
		if existed || got.FilesTotal != 5 || got.State != TransferSubmitted {
			t.Fatalf("inserted %+v existed %v", got, existed)
		}
		// The same id again returns the first job and adds no file.
		again, existed, err := s.InsertTransferJob(ctx, j, transferFiles(9, "file://a", "file://b"), nil)
		must(t, err, "InsertTransferJob again")
		if !existed || again.FilesTotal != 5 || again.Counts[TransferSubmitted] != 5 {
			t.Fatalf("resubmission %+v existed %v", again, existed)
		}

		// The pair's limit (start 2) caps the claim.
		claimed, err := s.ClaimTransferFiles(ctx, "job-1", 10, 2, nil)
		must(t, err, "Claim")
		if len(claimed) != 2 || claimed[0].Index != 0 || claimed[1].State != TransferActive {
			t.Fatalf("claimed %+v", claimed)
		}
		if more, _ := s.ClaimTransferFiles(ctx, "job-1", 10, 2, nil); len(more) != 0 {
			t.Fatalf("claimed beyond the limit: %+v", more)
		}
		must(t, s.SetTransferProgress(ctx, "job-1", map[int]int64{0: 50}), "progress")
		must(t, s.FinishTransferFile(ctx, "job-1", 0, FileOutcome{State: TransferFinished, Bytes: 100, Throughput: 1e6, DestChecksum: "adler32:00000001"}), "finish 0")
		// A retry waits for its delay.
		must(t, s.FinishTransferFile(ctx, "job-1", 1, FileOutcome{State: TransferSubmitted, Reason: "timeout", RetryAt: time.Now().Add(time.Hour)}), "retry 1")
		claimed, err = s.ClaimTransferFiles(ctx, "job-1", 10, 2, nil)
		must(t, err, "Claim 2")
		if len(claimed) != 2 || claimed[0].Index != 2 || claimed[1].Index != 3 {
			t.Fatalf("second claim %+v", claimed)
		}
		files, total, err := s.TransferFiles(ctx, "job-1", TransferFileFilter{})
		must(t, err, "TransferFiles")
		if total != 5 || files[0].State != TransferFinished || files[0].Bytes != 100 || files[1].Retries != 1 || files[1].NotBefore == nil {
			t.Fatalf("files %+v", files)
		}
		// A crashed attempt's active files go back to the queue.
		idx, err := s.ResetActiveTransferFiles(ctx, "job-1")
		must(t, err, "Reset")
		if len(idx) != 2 {
			t.Fatalf("reset %v", idx)
		}
		n, err := s.CancelTransferFiles(ctx, "job-1", "canceled by alice", 0)
		must(t, err, "Cancel")
		if n != 4 {
			t.Fatalf("canceled %d", n)
		}
		must(t, s.SetTransferJobState(ctx, "job-1", TransferCanceled, "canceled by alice"), "state")
		if err := s.SetTransferJobState(ctx, "job-1", TransferFinished, ""); !errors.Is(err, ErrFinal) {
			t.Fatalf("leaving a final state: %v", err)
		}
		jobs, total, err := s.ListTransferJobs(ctx, TransferFilter{Owner: "alice", DestSE: "file://b"})
		must(t, err, "List")
		if total != 1 || jobs[0].Counts[TransferCanceled] != 4 || jobs[0].FinishedAt == nil {
			t.Fatalf("list %+v", jobs)
		}
		if _, total, _ := s.ListTransferJobs(ctx, TransferFilter{SourceSE: "file://zz"}); total != 0 {
			t.Fatalf("source filter matched %d", total)
		}
	})
}

func TestTransferPriorityAndBans(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, _, err := s.InsertTransferJob(ctx, TransferJob{ID: "low", Owner: "bob", Priority: 1}, transferFiles(3, "http://x", "node://n1"), nil)
		must(t, err, "insert low")
		_, _, err = s.InsertTransferJob(ctx, TransferJob{ID: "high", Owner: "carol", Priority: 5}, transferFiles(3, "http://x", "node://n1"), nil)
		must(t, err, "insert high")
		if c, _ := s.ClaimTransferFiles(ctx, "low", 10, 4, nil); len(c) != 0 {
			t.Fatalf("low priority claimed %d files while high waits", len(c))
		}
		if c, _ := s.ClaimTransferFiles(ctx, "high", 10, 4, nil); len(c) != 3 {
			t.Fatalf("high claimed %d", len(c))
		}
		if c, _ := s.ClaimTransferFiles(ctx, "low", 10, 4, nil); len(c) != 1 {
			t.Fatalf("low claimed %d, want the last free slot", len(c))
		}

		// WAIT holds queued files, unban releases them.
		n, err := s.AddBan(ctx, Ban{Kind: BanStorage, Subject: "node://n1", Mode: BanWait, By: "admin"})
		must(t, err, "ban wait")
		if n != 2 {
			t.Fatalf("held %d", n)
		}
		counts, _ := s.TransferCounts(ctx, "low")
		if counts[TransferOnHold] != 2 {
			t.Fatalf("counts %v", counts)
		}
		n, err = s.RemoveBan(ctx, BanStorage, "node://n1")
		must(t, err, "unban")
		if n != 2 {
			t.Fatalf("released %d", n)
		}
		if _, err := s.RemoveBan(ctx, BanStorage, "node://n1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second unban: %v", err)
		}
		// CANCEL cancels them; a user ban cancels the user's queue.
		n, err = s.AddBan(ctx, Ban{Kind: BanStorage, Subject: "http://x", Mode: BanCancel, By: "admin"})
		must(t, err, "ban cancel")
		if n != 2 {
			t.Fatalf("canceled %d", n)
		}
		bans, err := s.ListBans(ctx, BanStorage)
		must(t, err, "ListBans")
		if len(bans) != 1 || bans[0].Mode != BanCancel {
			t.Fatalf("bans %+v", bans)
		}
		_, _, err = s.InsertTransferJob(ctx, TransferJob{ID: "held", Owner: "dave", Priority: 3}, transferFiles(2, "file://a", "file://b"),
			func(src, dst string) bool { return dst == "file://b" })
		must(t, err, "insert held")
		if c, _ := s.TransferCounts(ctx, "held"); c[TransferOnHold] != 2 {
			t.Fatalf("held counts %v", c)
		}
		n, err = s.AddBan(ctx, Ban{Kind: BanUser, Subject: "dave", By: "admin"})
		must(t, err, "ban user")
		if n != 2 {
			t.Fatalf("user ban canceled %d", n)
		}
	})
}

func TestOptimizerRecords(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, _, err := s.InsertTransferJob(ctx, TransferJob{ID: "j", Owner: "a", Priority: 3}, transferFiles(4, "file://a", "file://b"), nil)
		must(t, err, "insert")
		decide := func(w PairWindow) OptimizerRecord {
			return OptimizerRecord{Active: int(w.Active) + w.Finished, Rationale: fmt.Sprintf("%d finished %d failed %d queued", w.Finished, w.Failed, w.Queued), QueueSize: w.Queued, FileSizeAvg: w.FileSizeAvg}
		}
		// The first call creates the pair; the next decides once the interval passed.
		if ok, err := s.OptimizePair(ctx, "file://a", "file://b", 0, 3, decide); err != nil || ok {
			t.Fatalf("first: %v %v", ok, err)
		}
		c, _ := s.ClaimTransferFiles(ctx, "j", 2, 3, nil)
		for _, f := range c {
			must(t, s.FinishTransferFile(ctx, "j", f.Index, FileOutcome{State: TransferFinished, Bytes: 100, Throughput: 10}), "finish")
		}
		if ok, err := s.OptimizePair(ctx, "file://a", "file://b", time.Hour, 3, decide); err != nil || ok {
			t.Fatalf("within the interval: %v %v", ok, err)
		}
		ok, err := s.OptimizePair(ctx, "file://a", "file://b", 0, 3, decide)
		if err != nil || !ok {
			t.Fatalf("decide: %v %v", ok, err)
		}
		must(t, s.SetOptimizerValues(ctx, OptimizerRecord{SourceSE: "file://a", DestSE: "file://b", Active: 9, EMA: 3.4, Rationale: "my reason"}), "set")
		ev, total, err := s.OptimizerEvolution(ctx, "file://a", "", 0, 10)
		must(t, err, "evolution")
		if total != 2 || !ev[0].Manual || ev[0].Active != 9 || ev[1].Active != 5 || ev[1].Rationale != "2 finished 0 failed 2 queued" || ev[1].FileSizeAvg != 100 {
			t.Fatalf("evolution %+v", ev)
		}
		st, err := s.PairStatuses(ctx, "file://a", "file://b", time.Hour)
		must(t, err, "status")
		if len(st) != 1 || st[0].MaxActive != 9 || st[0].Finished != 2 || st[0].Submitted != 2 || st[0].SuccessRatio == nil || *st[0].SuccessRatio != 1 || st[0].AvgThroughput == nil {
			t.Fatalf("status %+v", st)
		}
	})
}
