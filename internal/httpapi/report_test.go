package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/certhub/certhub/exchange"
)

// TestUsageReport: issuances and department lookups are counted by
// period, actor, type, authority and purpose, as JSON and as CSV.
func TestUsageReport(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	for i := 0; i < 2; i++ {
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
			t.Fatalf("issue: %d", st)
		}
	}
	consumer := h.token(exchange.RoleConsumer, "")
	for _, purpose := range []string{"SX-001", "SX-001", "SX-002"} {
		h.call("GET", "/api/v1/certificates?holder_id="+companyID, consumer, nil, nil, "X-Purpose", purpose, "X-Case-Id", "c-1")
	}
	month := h.Certs.Today().String()[:7]
	var rep struct {
		Rows []exchange.ReportRow
	}
	if st := h.call("GET", "/api/v1/reports/usage?period=month", h.Admin, nil, &rep); st != 200 {
		t.Fatalf("report: %d", st)
	}
	got := map[string]int64{}
	for _, r := range rep.Rows {
		if r.Period != month {
			t.Fatalf("period %q, want %q", r.Period, month)
		}
		got[r.Action+"|"+r.Purpose+"|"+r.Type] += r.Count
	}
	want := map[string]int64{"issuance||" + licence: 2, "lookup|SX-001|" + licence: 2, "lookup|SX-002|" + licence: 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	var q struct{ Rows []exchange.ReportRow }
	h.call("GET", "/api/v1/reports/usage?period=quarter", h.Admin, nil, &q)
	if len(q.Rows) == 0 || !strings.Contains(q.Rows[0].Period, "-Q") {
		t.Fatalf("quarterly: %+v", q.Rows)
	}

	req, _ := http.NewRequest("GET", h.Srv.URL+"/api/v1/reports/usage?period=year&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+h.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "\ufeffperiod,action,actor,type,authority,purpose,count\n") || !strings.Contains(string(body), ",SX-001,2\n") {
		t.Fatalf("csv = %q", body)
	}
	for _, bad := range []string{"period=week", "from=2026-13-01", "from=2026-06-01&to=2026-01-01"} {
		var out struct{ Error struct{ Field string } }
		if st := h.call("GET", "/api/v1/reports/usage?"+bad, h.Admin, nil, &out); st != 400 || out.Error.Field == "" {
			t.Errorf("%s: %d %+v", bad, st, out)
		}
	}
}
