package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFederationLookup: a department system of the province looks up a
// licence the county issued (scope=federation). The province signs the
// request, the county checks it and runs it under its own agreement for
// the province's consumer (hub:330000/<id>), and both ledgers record the
// call under the same request id. A consumer the county has no agreement
// with is refused by the county (not_permitted_remote); with the county
// down the province says so (remote_unreachable). Once the province agrees
// itself to serve its department the county's type (known from the
// definition the county pushed), the department finds the county's licence
// in the copy the province aggregated, with the county down.
func TestFederationLookup(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	prov, county := f.prov, f.county
	issuer, typ := countySetup(t, county.p)
	issued := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301023001"))

	// At the province: two department systems, one of which the county
	// will agree to serve.
	mk := func(name string) (id, token string) {
		id = prov.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"name": name, "uscc": company})["id"].(string)
		token = prov.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": name, "role": "consumer", "consumer": id})["token"].(string)
		return id, token
	}
	csm, token := mk("省级受理平台")
	_, stranger := mk("另一个系统")
	// At the county: the purpose, the province's consumer under its
	// federated id, and an approved agreement for it.
	county.p.must(201, "POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办", "kind": "service_item"})
	county.p.must(400, "POST", "/api/v1/consumers", admin, map[string]string{"id": "csm_mine", "name": "x", "uscc": company})
	fedID := "hub:330000/" + csm
	county.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"id": fedID, "name": "浙江省 省级受理平台", "uscc": company})
	agr := county.p.must(201, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": fedID, "purposes": []string{"SX-FOOD-NEW"},
		"grants":     []map[string]any{{"type": typ, "fields": []string{"permit_no", "holder_name"}}},
		"valid_from": "2026-01-01", "valid_until": "2099-12-31"})["id"].(string)
	county.p.must(200, "POST", "/api/v1/agreements/"+agr+"/approve", admin, map[string]string{})

	path := "/api/v1/certificates?scope=federation&type=" + typ + "&holder_id=" + company
	var got map[string]any
	waitFor(t, 60*time.Second, "the province's lookup reaches the county", func() (bool, string) {
		a := prov.p.do("GET", path, token, nil, purpose...)
		if a.status != 200 {
			return false, string(a.body)
		}
		got = a.json(t)
		return true, ""
	})
	cs := got["certificates"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["id"] != issued["id"] || got["hub"].(map[string]any)["id"] != "330102" {
		t.Fatalf("the province's federated lookup: %v", got)
	}
	if d := cs[0].(map[string]any)["data"].(map[string]any); d["permit_no"] != "JY3301023001" {
		t.Fatalf("granted field: %v", d)
	}
	reqID := got["federation_request_id"].(string)

	// Another consumer: the county has no agreement with it.
	a := prov.p.do("GET", path, stranger, nil, purpose...)
	if m := a.json(t); a.status != 403 || m["error"].(map[string]any)["side"] != "not_permitted_remote" {
		t.Fatalf("a consumer the county does not serve: %d %s", a.status, a.body)
	}
	// Without purpose and case the province refuses itself.
	prov.p.must(400, "GET", path, token, nil)
	prov.p.must(400, "GET", "/api/v1/certificates?scope=nowhere&type="+typ+"&holder_id="+company, token, nil, purpose...)

	// Both ledgers hold the call under the same request id: the province's
	// federated_lookup, the county's lookup by hub:330000/<consumer>.
	// The county's licence and its type's definition have reached the
	// province by aggregation before the county stops.
	waitFor(t, 60*time.Second, "the county's licence aggregated at the province", func() (bool, string) {
		a := prov.p.do("GET", "/api/v1/federation/certificates/"+issued["id"].(string), admin, nil)
		return a.status == 200, string(a.body)
	})
	county.p.stop()
	a = prov.p.do("GET", path, token, nil, purpose...)
	if m := a.json(t); a.status != 503 || m["error"].(map[string]any)["side"] != "remote_unreachable" {
		t.Fatalf("with the county down: %d %s", a.status, a.body)
	}

	// The province agrees itself to serve its department the county's
	// type (the definition the county pushed), granting one field: the
	// department's lookup is answered from the copy the province keeps,
	// the county (down) never asked; with or without scope=federation.
	if a := prov.p.do("POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办",
		"kind": "service_item"}); a.status != 201 && a.status != 409 {
		t.Fatalf("the province's purpose: %d %s", a.status, a.body)
	}
	prov.p.must(400, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": csm, "purposes": []string{"SX-FOOD-NEW"},
		"grants": []map[string]any{{"type": typ, "fields": []string{"capital"}}}, "valid_from": "2026-01-01", "valid_until": "2099-12-31"})
	own := prov.p.must(201, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": csm, "purposes": []string{"SX-FOOD-NEW"},
		"grants": []map[string]any{{"type": typ, "fields": []string{"permit_no"}}}, "valid_from": "2026-01-01", "valid_until": "2099-12-31"})["id"].(string)
	prov.p.must(200, "POST", "/api/v1/agreements/"+own+"/approve", admin, map[string]string{})
	for _, p := range []string{"/api/v1/certificates?holder_id=" + company, path} {
		got := prov.p.must(200, "GET", p, token, nil, purpose...)
		cs := got["certificates"].([]any)
		if len(cs) != 1 || got["federation_request_id"] != nil {
			t.Fatalf("%s at the province from its copy: %v", p, got)
		}
		c := cs[0].(map[string]any)
		hub, _ := c["hub"].(map[string]any)
		if c["id"] != issued["id"] || c["source"] != "aggregated" || hub["id"] != "330102" || hub["name"] != "上城区电子证照库" ||
			c["status"] != "valid" || c["agreement"] != own || c["holder"].(map[string]any)["name"] != "" ||
			fmt.Sprint(c["data"]) != "map[permit_no:JY3301023001]" {
			t.Fatalf("%s: the copy as the province's department sees it: %v", p, c)
		}
	}
	// A department the province has not agreed with is still sent to the
	// county, which is down.
	if a := prov.p.do("GET", path, stranger, nil, purpose...); a.status != 503 {
		t.Fatalf("a department the province does not serve: %d %s", a.status, a.body)
	}
	ledger := func(h *fedHub) string {
		out := filepath.Join(f.dir, h.id+"-ledger.jsonl")
		h.cli(t, "audit", "export", "--out", out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lc, lp := ledger(county), ledger(prov)
	for _, want := range []string{`"actor":"consumer:` + fedID + `"`, `"action":"lookup"`, `"request_id":"` + reqID + `"`} {
		if !strings.Contains(lc, want) {
			t.Errorf("the county's ledger lacks %s", want)
		}
	}
	for _, want := range []string{`"action":"federated_lookup"`, `"request_id":"` + reqID + `"`, `ok: hub 330102 answered 1 certificates`,
		`refused: not_permitted_remote`, `failed: remote_unreachable`, `"agreement":"` + own + `"`} {
		if !strings.Contains(lp, want) {
			t.Errorf("the province's ledger lacks %s", want)
		}
	}
	if strings.Contains(lp+lc, company) {
		t.Error("a ledger holds the holder id in clear")
	}
}
