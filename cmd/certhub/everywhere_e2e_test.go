package main_test

import (
	"testing"
	"time"
)

// TestFederationLookupEverywhere: a county's department looks a company
// up in every hub at once (scope=federation, no type). The county answers
// its own licence under its own agreement; the province, which keeps the
// copies every hub aggregated, answers the city's licence under its
// agreement for the county's department, marked with the city; the
// county's own licence is not taken twice. With the province down the
// answer is the county's alone and says which side failed.
func TestFederationLookupEverywhere(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	prov, city, county := f.prov, f.city, f.county
	cityIssuer, _ := setup(t, city.p)
	cityID := city.p.must(201, "POST", "/api/v1/certificates", cityIssuer, permit("JY1330100009"))["id"].(string)
	countyIssuer, ctyp := countySetup(t, county.p)
	countyID := county.p.must(201, "POST", "/api/v1/certificates", countyIssuer, countyPermit(ctyp, "JY3301026001"))["id"].(string)

	// The county's department, with the county's agreement for its type.
	county.p.must(201, "POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办", "kind": "service_item"})
	csm := county.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"name": "区级受理平台", "uscc": company})["id"].(string)
	token := county.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "区级受理平台", "role": "consumer", "consumer": csm})["token"].(string)
	agr := county.p.must(201, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": csm, "purposes": []string{"SX-FOOD-NEW"},
		"grants":     []map[string]any{{"type": ctyp, "fields": []string{"permit_no"}}},
		"valid_from": "2026-01-01", "valid_until": "2099-12-31"})["id"].(string)
	county.p.must(200, "POST", "/api/v1/agreements/"+agr+"/approve", admin, map[string]string{})

	// The province serves that department the city's type and the
	// county's, once their definitions have been pushed up.
	prov.p.must(201, "POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办", "kind": "service_item"})
	fedID := "hub:330102/" + csm
	prov.p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"id": fedID, "name": "上城区 区级受理平台", "uscc": company})
	var pagr string
	waitFor(t, 60*time.Second, "the province knows the city's and the county's types", func() (bool, string) {
		a := prov.p.do("POST", "/api/v1/agreements", admin, map[string]any{"consumer": fedID, "purposes": []string{"SX-FOOD-NEW"},
			"grants":     []map[string]any{{"type": licence, "fields": []string{"permit_no"}}, {"type": ctyp, "fields": []string{"permit_no"}}},
			"valid_from": "2026-01-01", "valid_until": "2099-12-31"})
		if a.status != 201 {
			return false, string(a.body)
		}
		pagr = a.json(t)["id"].(string)
		return true, ""
	})
	prov.p.must(200, "POST", "/api/v1/agreements/"+pagr+"/approve", admin, map[string]string{})
	waitFor(t, 60*time.Second, "the province holds both licences", func() (bool, string) {
		a := prov.p.do("GET", "/api/v1/federation/certificates/"+cityID, admin, nil)
		b := prov.p.do("GET", "/api/v1/federation/certificates/"+countyID, admin, nil)
		return a.status == 200 && b.status == 200, string(a.body) + string(b.body)
	})

	path := "/api/v1/certificates?scope=federation&holder_id=" + company
	var a answer
	var got map[string]any
	// Until the province's directory vouches for the county, the province
	// refuses its requests: the answer is the county's alone, and says so.
	waitFor(t, 60*time.Second, "the province answers the county's lookup", func() (bool, string) {
		a = county.p.do("GET", path, token, nil, purpose...)
		if a.status != 200 {
			t.Fatalf("lookup in every hub: %d %s", a.status, a.body)
		}
		got = a.json(t)
		return got["federation_error"] == nil, string(a.body)
	})
	byID := map[string]map[string]any{}
	for _, c := range got["certificates"].([]any) {
		m := c.(map[string]any)
		byID[m["id"].(string)] = m
	}
	if len(byID) != 2 || byID[countyID] == nil || byID[cityID] == nil {
		t.Fatalf("lookup in every hub found %v", got)
	}
	if h, _ := byID[cityID]["hub"].(map[string]any); h == nil || h["id"] != "330100" || byID[cityID]["source"] != "aggregated" {
		t.Fatalf("the city's licence, from the province's copy: %v", byID[cityID])
	}
	if _, ok := byID[countyID]["hub"]; ok {
		t.Fatalf("the county's own licence is answered by the county: %v", byID[countyID])
	}
	if d := byID[cityID]["data"].(map[string]any); d["permit_no"] != "JY1330100009" || d["address"] != nil {
		t.Fatalf("the city's licence with the province's grant: %v", d)
	}
	if got["federation_request_id"] == "" || got["federation_request_id"] != a.header.Get("X-Certhub-Request-Id") {
		t.Fatalf("request id: %v / %s", got["federation_request_id"], a.header.Get("X-Certhub-Request-Id"))
	}
	// One holder at a time.
	county.p.must(400, "GET", "/api/v1/certificates?scope=federation", token, nil, purpose...)

	// The province down: the county's own answer, and why it is not all.
	prov.p.stop()
	a = county.p.do("GET", path, token, nil, purpose...)
	got = a.json(t)
	fe, _ := got["federation_error"].(map[string]any)
	if a.status != 200 || len(got["certificates"].([]any)) != 1 || fe == nil || fe["side"] != "remote_unreachable" {
		t.Fatalf("lookup in every hub with the province down: %d %s", a.status, a.body)
	}
}
