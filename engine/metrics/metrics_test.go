package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHandlerExportsTaggedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHandler(reg).WithTags(map[string]string{"namespace": "default", "task_queue": "gridflow", "ignored": "x"})
	wf := h.WithTags(map[string]string{"workflow_type": "Reservation"})
	wf.Counter("temporal_workflow_completed").Inc(2)
	wf.Counter("temporal_workflow_completed").Inc(1)
	h.Gauge("temporal_num_pollers").Update(3)
	wf.Timer("temporal_workflow_endtoend_latency").Record(1500 * time.Millisecond)

	want := `
# HELP temporal_workflow_completed Temporal SDK counter temporal_workflow_completed
# TYPE temporal_workflow_completed counter
temporal_workflow_completed{activity_type="",namespace="default",task_queue="gridflow",workflow_type="Reservation"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "temporal_workflow_completed"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "temporal_num_pollers", "temporal_workflow_endtoend_latency_seconds"); err != nil || n != 2 {
		t.Fatalf("gauge and timer series: %d, %v", n, err)
	}
}
