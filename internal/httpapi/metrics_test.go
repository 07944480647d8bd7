package httpapi_test

import (
	"testing"

	"github.com/certhub/certhub/internal/metricstest"
)

// certhub_verifications_total tells valid answers from invalid ones, which
// the HTTP status (200 for both) cannot, and counts each input form apart.
func TestVerificationMetrics(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	var issued struct{ ID, Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	before := metricstest.Scrape(t, h.Srv.URL)
	for _, input := range []string{"document", "id", "file"} {
		for _, outcome := range []string{"valid", "invalid"} {
			if !metricstest.Has(before, "certhub_verifications_total", "input", input, "outcome", outcome) {
				t.Errorf("no series input=%s outcome=%s before any verification", input, outcome)
			}
		}
	}

	if v := h.verifyDocument(issued.Document); !v.Valid {
		t.Fatalf("the issued document: %+v", v)
	}
	if v := h.verifyDocument(issued.Document + "x"); v.Valid {
		t.Fatalf("a tampered document: %+v", v)
	}
	var byID verifyAnswer
	if st := h.call("POST", "/api/v1/verify", "", map[string]string{"id": issued.ID}, &byID); st != 200 || !byID.Valid {
		t.Fatalf("verify by id: %d %+v", st, byID)
	}
	// A refused request is an HTTP error, not a verification.
	if st := h.call("POST", "/api/v1/verify", "", map[string]string{}, nil); st != 400 {
		t.Fatalf("empty verify: %d", st)
	}

	after := metricstest.Scrape(t, h.Srv.URL)
	for _, c := range []struct {
		name           string
		input, outcome string
		want           float64
	}{
		{"valid document", "document", "valid", 1},
		{"tampered document", "document", "invalid", 1},
		{"valid id", "id", "valid", 1},
		{"no invalid id", "id", "invalid", 0},
		{"no file", "file", "valid", 0},
	} {
		got := metricstest.Value(after, "certhub_verifications_total", "input", c.input, "outcome", c.outcome)
		if got != c.want {
			t.Errorf("%s: certhub_verifications_total{input=%q,outcome=%q} = %v, want %v", c.name, c.input, c.outcome, got, c.want)
		}
	}
}
