package main_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestFederationBackfill: a county that issued licences before it joined
// the federation brings them to the city and, through the city, to the
// province by its backfill, each version in its state (a revision's old
// version superseded); the issuances before the backfill's mark are not
// pushed again as events. A revocation made while the backfill runs ends
// revoked at both parents, and what the county does after the backfill
// travels as events.
func TestFederationBackfill(t *testing.T) {
	t.Parallel()
	want := map[string]string{}
	var ids []string
	var issuer, typ string
	f := newFederationJoining(t, func(county *fedHub) {
		issuer, typ = countySetup(t, county.p)
		for i := range 30 {
			c := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, fmt.Sprintf("JY3301023%03d", i)))
			ids = append(ids, c["id"].(string))
			want[c["id"].(string)] = "valid"
		}
		rev := county.p.must(201, "POST", "/api/v1/certificates/"+ids[0]+"/revisions", issuer, map[string]any{
			"data": map[string]any{"permit_no": "JY3301023999"}, "reason": "许可事项变更"})
		want[ids[0]], want[rev["id"].(string)] = "superseded", "valid"
		county.p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/suspend", issuer, map[string]string{"reason": "停业整顿"})
		want[ids[1]] = "suspended"
	})
	prov, city, county := f.prov, f.city, f.county
	// The county has joined and been admitted; its backfill begins at its
	// next push (every 300 ms) and waits 10 s for the events before its
	// mark to settle. Revoked meanwhile.
	time.Sleep(2 * time.Second)
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[2]+"/revoke", issuer, map[string]string{"reason": "吊销"})
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/revoke", issuer, map[string]string{"reason": "吊销"})
	want[ids[1]], want[ids[2]] = "revoked", "revoked"
	waitAggregated(t, city, want)
	waitAggregated(t, prov, want)

	// The backfill covered the county's outbox through its mark: those 32
	// events (the issuances, the revision, the suspension) were not
	// pushed, only the revocations after it.
	m := regexp.MustCompile(`"federation backfill done".*"events_through":(\d+)`).FindStringSubmatch(county.p.log())
	if m == nil {
		t.Fatalf("the county logged no finished backfill:\n%s", county.p.log())
	}
	if n, _ := strconv.Atoi(m[1]); n != 32 {
		t.Fatalf("the county's backfill covers its outbox through %d, want its 32 events before the revocations", n)
	}

	// After the backfill, changes travel as events.
	more := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301024000"))
	want[more["id"].(string)] = "valid"
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[3]+"/revoke", issuer, map[string]string{"reason": "吊销"})
	want[ids[3]] = "revoked"
	waitAggregated(t, city, want)
	waitAggregated(t, prov, want)
	// The province holds the county's documents byte for byte.
	doc := county.p.must(200, "GET", "/api/v1/certificates/"+ids[4], issuer, nil)
	if got := aggregated(t, prov)[ids[4]]; got["document_sha256"] != doc["document_sha256"] {
		t.Fatalf("the province holds %v, the county issued %v", got, doc)
	}
}
