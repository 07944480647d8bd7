package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// TestPushIn: a department system pushes its records through a connector
// of its own authority; the same mapping and semantics as a pull apply.
func TestPushIn(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	def := fmt.Sprintf(`{"name": "licence-push", "kind": "file", "source": {"dir": %q}, "type": %q, "authority": %q,
		"mapping": {"key": ["no"], "holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"field": "name"}},
		"data": {"legal_representative": {"field": "rep"}, "established_on": {"field": "since", "date": "auto"}},
		"valid_from": {"field": "since", "date": "auto"}, "valid_until": {"field": "until", "date": "auto"}}}`, t.TempDir(), licence, marketCode)
	if st := h.call("POST", "/api/v1/connectors", h.Admin, def, nil); st != 201 {
		t.Fatalf("apply: %d", st)
	}
	if st := h.call("POST", "/api/v1/connectors", h.Admin, def, nil); st != 200 {
		t.Fatalf("re-apply: %d", st)
	}
	issuer := h.token(exchange.RoleIssuer, marketCode)
	other := h.token(exchange.RoleIssuer, otherCode)
	rec := func(no, rep string) map[string]any {
		return map[string]any{"no": no, "uscc": companyID, "name": "福建某某科技有限公司", "rep": rep, "since": "2020年5月1日", "until": "20300427"}
	}
	var run struct{ Seen, Issued, Revised, Unchanged, Quarantined int }
	if st := h.call("POST", "/api/v1/connectors/licence-push/records", issuer, map[string]any{"records": []any{rec("A1", "张三"), rec("A2", "李四"), map[string]any{"no": "A3"}}}, &run); st != 200 {
		t.Fatalf("push: %d", st)
	}
	if run.Seen != 3 || run.Issued != 2 || run.Quarantined != 1 {
		t.Fatalf("push run = %+v", run)
	}
	h.call("POST", "/api/v1/connectors/licence-push/records", issuer, map[string]any{"records": []any{rec("A1", "张三"), rec("A2", "王五")}}, &run)
	if run.Unchanged != 1 || run.Revised != 1 {
		t.Fatalf("second push = %+v", run)
	}
	if st := h.call("POST", "/api/v1/connectors/licence-push/records", other, map[string]any{"records": []any{rec("A9", "x")}}, nil); st != 403 {
		t.Fatalf("push to another authority's connector: %d", st)
	}
	for name, body := range map[string]any{"no records": map[string]any{"records": []any{}}, "not objects": map[string]any{"records": []any{1, 2}}} {
		var out struct{ Error struct{ Field string } }
		if st := h.call("POST", "/api/v1/connectors/licence-push/records", issuer, body, &out); st != 400 {
			t.Errorf("%s: %d %+v", name, st, out)
		}
	}
	var q struct{ Quarantine []struct{ ID, Reason string } }
	h.call("GET", "/api/v1/connectors/licence-push/quarantine", h.Admin, nil, &q)
	if len(q.Quarantine) != 1 {
		t.Fatalf("quarantine = %+v", q)
	}
	var runs struct{ Runs []any }
	h.call("GET", "/api/v1/connectors/licence-push/runs", h.Admin, nil, &runs)
	if len(runs.Runs) != 2 {
		t.Fatalf("runs = %d", len(runs.Runs))
	}
	// Each run is in the ledger with its counts.
	var recorded []string
	for _, e := range h.ledger() {
		if e.Action == "connector_run" && e.Actor == "connector:licence-push" {
			recorded = append(recorded, e.Outcome)
		}
	}
	if len(recorded) != 2 || !strings.Contains(recorded[1], "revised 1, lifecycle 0, unchanged 1") {
		t.Fatalf("runs in the ledger: %q", recorded)
	}
	cs, _, _ := h.Certs.Find(t.Context(), certificates.Scope{}, certificates.FindRequest{HolderID: companyID, Limit: 10})
	if len(cs) != 2 {
		t.Fatalf("certificates = %d", len(cs))
	}
	var bad struct {
		Error struct{ Fields []struct{ Field string } }
	}
	if st := h.call("POST", "/api/v1/connectors", h.Admin, `{"name": "x", "kind": "gopher"}`, &bad); st != 400 || len(bad.Error.Fields) < 3 {
		t.Fatalf("bad definition: %d %+v", st, bad)
	}
}
