package main_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestFederationResolve: a county department system resolves a service
// item whose licence the city issued. The county's catalog names the
// city's type (known from the directory); the county asks the city for
// the applicant's licence under the city's agreement for
// hub:330102/<consumer>, and the material is satisfied with the granted
// field, marked with the city and the request id both ledgers carry. A
// consumer the city has no agreement with gets not_permitted (ask the city
// for an agreement, not the applicant); with the city down, unavailable.
func TestFederationResolve(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	city, county := f.city, f.county
	issuer, _ := setup(t, city.p) // the city's market regulator, licence type, purpose SX-FOOD-NEW
	permitID := city.p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1330100001"))["id"].(string)

	// The county's department systems, and its catalog naming the city's
	// type (refused until the county's directory knows the city holds it).
	county.p.must(201, "POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办", "kind": "service_item"})
	mk := func(name string) (id, token string) {
		id = county.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"name": name, "uscc": company})["id"].(string)
		token = county.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": name, "role": "consumer", "consumer": id})["token"].(string)
		return id, token
	}
	csm, token := mk("区级受理平台")
	_, stranger := mk("另一个系统")
	item := `
- code: SX-COUNTY-1
  name: 食品经营许可 延续
  department: 上城区市场监督管理局
  materials:
    - name: 延续申请书
      legal_basis: 《食品经营许可和备案管理办法》
    - name: 原食品经营许可证
      certificate: true
      types: [` + licence + `]
      fields: [permit_no, holder_name]
      legal_basis: 《食品经营许可和备案管理办法》
`
	waitFor(t, 60*time.Second, "the county's catalog takes the city's type", func() (bool, string) {
		a := county.p.do("POST", "/api/v1/service-items", admin, item, "Content-Type", "application/yaml")
		return a.status == 200, string(a.body)
	})
	// The city serves the county's consumer under an agreement of its own.
	fedID := "hub:330102/" + csm
	city.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"id": fedID, "name": "上城区 区级受理平台", "uscc": company})
	agr := city.p.must(201, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": fedID, "purposes": []string{"SX-FOOD-NEW"},
		"grants":     []map[string]any{{"type": licence, "fields": []string{"permit_no", "holder_name"}}},
		"valid_from": "2026-01-01", "valid_until": "2099-12-31"})["id"].(string)
	city.p.must(200, "POST", "/api/v1/agreements/"+agr+"/approve", admin, map[string]string{})

	resolve := func(tok, caseID string) map[string]any {
		return county.p.must(200, "POST", "/api/v1/service-items/SX-COUNTY-1/resolve", tok, map[string]any{
			"applicant": map[string]string{"id": company}, "case_id": caseID, "purpose": "SX-FOOD-NEW"})
	}
	ans := resolve(token, "2026-QX-0001")
	m := ans["materials"].([]any)[1].(map[string]any)
	c, _ := m["certificate"].(map[string]any)
	hub, _ := m["hub"].(map[string]any)
	if m["outcome"] != "satisfied" || c["id"] != permitID || c["fields"].(map[string]any)["permit_no"] != "JY1330100001" ||
		hub["id"] != "330100" || m["agreement"] != agr || ans["avoided"] != float64(1) {
		t.Fatalf("the county resolves the city's licence: %v", ans)
	}
	reqID := hub["request_id"].(string)

	m = resolve(stranger, "2026-QX-0002")["materials"].([]any)[1].(map[string]any)
	if m["outcome"] != "not_permitted" || !strings.Contains(m["reason"].(string), "hub 330100") {
		t.Fatalf("a consumer the city does not serve: %v", m)
	}
	city.p.stop()
	m = resolve(token, "2026-QX-0003")["materials"].([]any)[1].(map[string]any)
	if m["outcome"] != "unavailable" || !strings.Contains(m["reason"].(string), "remote_unreachable") {
		t.Fatalf("with the city down: %v", m)
	}
	// Both ledgers carry the request id.
	cityLedger := f.dir + "/city-ledger.jsonl"
	city.cli(t, "audit", "export", "--out", cityLedger)
	countyLedger := f.dir + "/county-ledger.jsonl"
	county.p.stop()
	county.cli(t, "audit", "export", "--out", countyLedger)
	for path, want := range map[string][]string{
		cityLedger:   {`"actor":"consumer:` + fedID + `"`, `"request_id":"` + reqID + `"`},
		countyLedger: {`"action":"resolve"`, `"request_id":"` + reqID + `"`, `(hub 330100)`},
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %s", path, w)
			}
		}
	}
}
