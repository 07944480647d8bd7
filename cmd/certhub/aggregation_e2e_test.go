package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
)

// countyAuthority is a market regulator registered in the county 330102
// (characters 3–8 of its USCC), so the county may hold it.
var countyAuthority = func() string {
	first := "11330102MB0000002"
	return first + string(certificates.USCCCheck(first))
}()

// countySetup creates the county's authority, a licence type and an issuer
// token.
func countySetup(t *testing.T, p *proc) (issuer, typ string) {
	t.Helper()
	typ = countyAuthority + "002"
	p.must(201, "POST", "/api/v1/authorities", admin, map[string]string{"code": countyAuthority, "name": "上城区市场监督管理局", "algorithm": "ES256"})
	p.must(201, "POST", "/api/v1/types", admin, map[string]any{"code": typ, "name": "食品经营许可证", "defining_authority": countyAuthority,
		"holder_kind": "organisation", "max_validity_days": 1827, "fields": []map[string]any{
			{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true}}})
	issuer = p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "审批系统", "role": "issuer", "authority": countyAuthority})["token"].(string)
	return issuer, typ
}

func countyPermit(typ, no string) map[string]any {
	return map[string]any{"type": typ, "authority": countyAuthority,
		"holder":     map[string]string{"kind": "organisation", "id": company, "name": "杭州某某餐饮有限公司"},
		"data":       map[string]any{"permit_no": no},
		"valid_from": "2025-01-01", "valid_until": "2029-12-31"}
}

// aggregated lists the county's certificate versions a hub holds, by id.
func aggregated(t *testing.T, h *fedHub) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	got := h.p.must(200, "GET", "/api/v1/federation/certificates?home_hub=330102", admin, nil)
	for _, c := range got["certificates"].([]any) {
		m := c.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

// waitAggregated waits until hub h holds exactly want (id → state) of the
// county's versions.
func waitAggregated(t *testing.T, h *fedHub, want map[string]string) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("hub %s holds the county's %d versions", h.id, len(want)), func() (bool, string) {
		got := aggregated(t, h)
		if len(got) != len(want) {
			return false, fmt.Sprintf("%d versions", len(got))
		}
		for id, st := range want {
			if got[id] == nil || got[id]["state"] != st || got[id]["home_hub"] != "330102" {
				return false, fmt.Sprintf("%s: %v", id, got[id])
			}
		}
		return true, ""
	})
}

// TestFederationAggregation: what the county issues reaches the city and,
// through it, the province, as the county signed it (never re-sealed),
// marked with its home hub: issuances, a revision (the old version
// superseded), a suspension and reinstatement, a revocation. A city killed
// (SIGKILL) while the county pushes, and the province stopped for a while,
// lose nothing and duplicate nothing: once they are back, every version is
// there once, in its final state.
func TestFederationAggregation(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	prov, city, county := f.prov, f.city, f.county
	issuer, typ := countySetup(t, county.p)

	want := map[string]string{}
	var ids []string
	var firstDoc string
	for i := range 3 {
		c := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, fmt.Sprintf("JY3301020%03d", i)))
		ids = append(ids, c["id"].(string))
		want[c["id"].(string)] = "valid"
		if i == 0 {
			firstDoc = c["document"].(string)
		}
	}
	rev := county.p.must(201, "POST", "/api/v1/certificates/"+ids[0]+"/revisions", issuer, map[string]any{
		"data": map[string]any{"permit_no": "JY3301020999"}, "reason": "许可事项变更"})
	want[ids[0]], want[rev["id"].(string)] = "superseded", "valid"
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/suspend", issuer, map[string]string{"reason": "停业整顿"})
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/reinstate", issuer, map[string]string{"reason": "整改完成"})
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[2]+"/revoke", issuer, map[string]string{"reason": "吊销"})
	want[ids[2]] = "revoked"
	waitAggregated(t, city, want)
	waitAggregated(t, prov, want)

	// The document at the province is the county's, byte for byte: its
	// sha-256 is the county's record of it.
	doc := county.p.must(200, "GET", "/api/v1/certificates/"+rev["id"].(string), issuer, nil)
	if got := aggregated(t, prov)[rev["id"].(string)]; got["document_sha256"] != doc["document_sha256"] || got["kid"] != rev["kid"] {
		t.Fatalf("the province holds %v, the county issued %v", got, doc)
	}

	// The city dies mid-stream; issuances go on at the county.
	for i := range 20 {
		c := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, fmt.Sprintf("JY3301021%03d", i)))
		want[c["id"].(string)] = "valid"
		if i == 5 {
			_ = city.p.cmd.Process.Kill()
			_ = city.p.cmd.Wait()
		}
	}
	// The province is stopped too, while the city comes back.
	prov.p.stop()
	city.start(t)
	waitAggregated(t, city, want)
	more := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301022000"))
	want[more["id"].(string)] = "valid"
	waitAggregated(t, city, want)
	prov.start(t)
	waitAggregated(t, prov, want)

	// Each hub applied the county's outbox exactly through its end.
	st := city.p.must(200, "GET", "/api/v1/federation", admin, nil)
	if st["inbox"].(map[string]any)["330102"] == nil {
		t.Fatalf("the city's inbox: %v", st["inbox"])
	}
	// Nothing is read-write at the parent: the county's certificates are
	// not the city's own. It reads them as copies marked with their home
	// hub, and refuses to change them.
	if c := city.p.must(200, "GET", "/api/v1/certificates/"+more["id"].(string), admin, nil); c["source"] != "aggregated" ||
		c["hub"].(map[string]any)["id"] != "330102" {
		t.Fatalf("the city reads the county's licence as %v", c)
	}
	city.p.must(409, "POST", "/api/v1/certificates/"+more["id"].(string)+"/revoke", admin, map[string]string{"reason": "不应在此吊销"})

	// The county goes down: the province and the city still verify its
	// licences (the signature with the county's last good trust list), and
	// answer the status from the copies the county pushed, saying so.
	county.p.stop()
	for _, h := range []*fedHub{prov, city} {
		v := h.p.verify(map[string]string{"document": rev["document"].(string)})
		if v["valid"] != true || v["source"] != "aggregated" || v["unanswered"] != "remote_unreachable" ||
			v["hub"].(map[string]any)["id"] != "330102" || v["as_of"] == nil {
			t.Fatalf("hub %s verifies the county's licence with the county down: %v", h.id, v)
		}
		if v := h.p.verify(map[string]string{"id": ids[2]}); reasons(v) != "[revoked]" || v["source"] != "aggregated" {
			t.Fatalf("hub %s verifies the county's revoked licence by id with the county down: %v", h.id, v)
		}
		if v := h.p.verify(map[string]string{"document": firstDoc}); reasons(v) != "[superseded]" || v["current_id"] != rev["id"] {
			t.Fatalf("hub %s verifies the county's superseded version: %v", h.id, v)
		}
	}
	for _, h := range []*fedHub{county, city, prov} {
		if strings.Contains(h.p.log(), company) {
			t.Fatalf("hub %s logged the holder id", h.id)
		}
	}
}
