package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/hubtest"
)

// TestConnectorRunOutlastsWriteTimeout: POST /api/v1/connectors/{name}/run
// answers when the run ends, even when the run takes longer than the
// server's write timeout (a backfill of a million records does, against
// certhub serve's 60 s); the connection used to be cut with no answer.
func TestConnectorRunOutlastsWriteTimeout(t *testing.T) {
	t.Parallel()
	// Long enough for the setup's calls under the race detector on a
	// loaded machine; the source takes twice as long.
	h := newHub(t, hubtest.WriteTimeout(2*time.Second))
	h.seed()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(4 * time.Second) // twice the write timeout
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items": []}`))
	}))
	t.Cleanup(slow.Close)
	def := fmt.Sprintf(`{"name": "slow-dept", "kind": "http", "source": {"url": %q, "records": "items", "retries": 0}, "type": %q, "authority": %q,
		"mapping": {"key": ["no"], "holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"field": "name"}},
		"data": {"legal_representative": {"field": "rep"}, "established_on": {"field": "since", "date": "auto"}},
		"valid_from": {"field": "since", "date": "auto"}, "valid_until": {"field": "until", "date": "auto"}}}`, slow.URL, licence, marketCode)
	var applied map[string]any
	if st := h.call("POST", "/api/v1/connectors", h.Admin, def, &applied); st != 201 {
		t.Fatalf("apply: %d %v", st, applied)
	}
	var run struct{ ID, Status string }
	if st := h.call("POST", "/api/v1/connectors/slow-dept/run", h.Admin, nil, &run); st != 200 || run.ID == "" || run.Status != "succeeded" {
		t.Fatalf("run: %d %+v", st, run)
	}
}
