//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// The suite's summary: every test records what it injected, held, tried or
// checked, and TestMain prints one table at the end, so that a CI log shows
// at a glance what the run proved (and a failed row says what did not hold).
//
// Sections, in the order printed.
const (
	sectionFault     = "fault"     // a fault injected and what survived it
	sectionLoad      = "load"      // requests, rate, p50/p99, errors
	sectionHostile   = "hostile"   // bad inputs tried and how they were rejected
	sectionInvariant = "invariant" // a property checked at the end of a test
)

type summaryRow struct {
	section, test, what, outcome string
	failed                       bool
}

var summary struct {
	sync.Mutex
	rows []summaryRow
}

// record adds a row to the summary for the running test. The row is marked
// failed if the test has failed by the time the suite ends.
func record(t testing.TB, section, what, format string, args ...any) {
	t.Helper()
	row := summaryRow{section: section, test: t.Name(), what: what, outcome: fmt.Sprintf(format, args...)}
	t.Logf("SUMMARY %s: %s: %s", section, what, row.outcome)
	summary.Lock()
	i := len(summary.rows)
	summary.rows = append(summary.rows, row)
	summary.Unlock()
	t.Cleanup(func() {
		summary.Lock()
		summary.rows[i].failed = t.Failed()
		summary.Unlock()
	})
}

// printSummary writes the table, grouped by section, to w.
func printSummary(w io.Writer) {
	summary.Lock()
	defer summary.Unlock()
	if len(summary.rows) == 0 {
		return
	}
	order := map[string]int{sectionFault: 0, sectionLoad: 1, sectionHostile: 2, sectionInvariant: 3}
	rows := append([]summaryRow(nil), summary.rows...)
	sort.SliceStable(rows, func(i, j int) bool { return order[rows[i].section] < order[rows[j].section] })
	fmt.Fprintln(w, "\n=== e2e summary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SECTION\tRESULT\tTEST\tWHAT\tOUTCOME")
	failed := 0
	for _, r := range rows {
		result := "ok"
		if r.failed {
			result = "FAILED"
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.section, result, r.test, r.what, strings.ReplaceAll(r.outcome, "\n", " "))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d rows, %d in failed tests\n", len(rows), failed)
}
