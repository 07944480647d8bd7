package main_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The county's own issuing authority (characters 3–8: 330102) and its
// licence type.
const (
	countyMarket  = "11330102MB0000001N"
	countyLicence = countyMarket + "001"
)

// forwardedTo counts the verifications a hub answered for another hub, as
// its log says.
func forwardedTo(h *fedHub) int {
	return strings.Count(h.p.log(), `"msg":"verify forwarded by another hub"`)
}

// noCallBetween checks that what does makes no verification call to h: it
// counts h's forwarded verifications once its log is settled, runs what,
// then has via (another hub) make one call to h, and expects exactly that
// one more once h's log shows it.
func noCallBetween(t *testing.T, h, via *fedHub, marker map[string]string, what func()) {
	t.Helper()
	before := -1
	for n := forwardedTo(h); n != before; n = forwardedTo(h) {
		before = n
		time.Sleep(500 * time.Millisecond)
	}
	what()
	via.p.verify(marker)
	waitFor(t, 10*time.Second, "the marker call reaches hub "+h.id, func() (bool, string) {
		return forwardedTo(h) > before, fmt.Sprint(forwardedTo(h) - before)
	})
	time.Sleep(300 * time.Millisecond)
	if n := forwardedTo(h) - before; n != 1 {
		t.Fatalf("hub %s answered %d forwarded verifications, want only the marker's", h.id, n)
	}
}

// TestFederationVerify runs three hubs as separate processes: the county
// issues a licence under an authority of its own region (an SM2 seal, so
// the key crosses hubs as an SM2 JWK with its certificate chain), and the
// province and the city, which hold nothing of it, verify it through the
// federation: the signature with the county's key from the county's trust
// list, the status by asking the county. A revocation at the county is
// what the province answers next; a tampered document is refused at the
// province without a call; with the county down the province still checks
// the signature and says the county is unreachable. Aggregation is off
// here, so no hub holds a copy to fall back on (TestFederationAggregation
// covers the answer from a copy).
func TestFederationVerify(t *testing.T) {
	t.Parallel()
	f := newFederation(t, "--federation-push-every", "0")
	prov, city, county := f.prov, f.city, f.county

	// The county's catalog and a licence.
	county.p.must(201, "POST", "/api/v1/authorities", admin, map[string]string{"code": countyMarket, "name": "上城区市场监督管理局", "algorithm": "SM2"})
	county.p.must(201, "POST", "/api/v1/types", admin, map[string]any{"code": countyLicence, "name": "食品经营许可证", "defining_authority": countyMarket,
		"holder_kind": "organisation", "max_validity_days": 1827, "fields": []map[string]any{
			{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true}}})
	issuer := county.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "审批系统", "role": "issuer", "authority": countyMarket})["token"].(string)
	issued := county.p.must(201, "POST", "/api/v1/certificates", issuer, map[string]any{"type": countyLicence, "authority": countyMarket,
		"holder":     map[string]string{"kind": "organisation", "id": company, "name": "杭州某某餐饮有限公司"},
		"data":       map[string]any{"permit_no": "JY13301020000009"},
		"valid_from": "2025-01-01", "valid_until": "2029-12-31"})
	id, doc := issued["id"].(string), issued["document"].(string)
	if v := county.p.verify(map[string]string{"document": doc}); v["valid"] != true || v["hub"] != nil {
		t.Fatalf("the county verifies its own licence: %v", v)
	}

	hubOf := func(v map[string]any) string {
		h, _ := v["hub"].(map[string]any)
		return fmt.Sprintf("%v %v", h["id"], h["name"])
	}
	const countyHub = "330102 上城区电子证照库"
	// The province learns the county's keys and what it holds within a few
	// refreshes; then it answers for the county's document and identifier.
	waitFor(t, 60*time.Second, "the province verifies the county's document", func() (bool, string) {
		v := prov.p.verify(map[string]string{"document": doc})
		return v["valid"] == true, fmt.Sprint(v)
	})
	v := prov.p.verify(map[string]string{"document": doc})
	if v["status"] != "valid" || hubOf(v) != countyHub || v["authority"].(map[string]any)["code"] != countyMarket ||
		v["certificate"].(map[string]any)["id"] != id {
		t.Fatalf("the province on the county's document: %v", v)
	}
	waitFor(t, 60*time.Second, "the province verifies the county's identifier", func() (bool, string) {
		v := prov.p.verify(map[string]string{"id": id})
		return v["valid"] == true && hubOf(v) == countyHub, fmt.Sprint(v)
	})
	if v := city.p.verify(map[string]string{"document": doc}); v["valid"] != true || hubOf(v) != countyHub {
		t.Fatalf("the city on the county's document: %v", v)
	}
	// The province holds nothing of it: asked as if forwarded, it answers
	// from itself alone, without a second hop.
	marker := map[string]string{"document": doc}
	noCallBetween(t, county, prov, marker, func() {
		v := prov.p.must(200, "POST", "/api/v1/verify", "", map[string]string{"document": doc}, "X-Certhub-Forwarded-By", "330100")
		if v["valid"] != false || reasons(v) != "[not_found]" || hubOf(v) != countyHub {
			t.Fatalf("a forwarded request at the province: %v", v)
		}
		if v := prov.p.must(200, "POST", "/api/v1/verify", "", map[string]string{"id": id}, "X-Certhub-Forwarded-By", "330100"); reasons(v) != "[not_found]" {
			t.Fatalf("a forwarded identifier at the province: %v", v)
		}
	})

	// The county revokes: the province and the city say so at once.
	county.p.must(200, "POST", "/api/v1/certificates/"+id+"/revoke", issuer, map[string]string{"reason": "违法经营"})
	for _, h := range []*fedHub{prov, city} {
		for _, body := range []map[string]string{{"document": doc}, {"id": id}} {
			if v := h.p.verify(body); v["valid"] != false || reasons(v) != "[revoked]" || v["status_code"] != "03" || hubOf(v) != countyHub {
				t.Fatalf("hub %s on the revoked licence (%v): %v", h.id, body, v)
			}
		}
	}

	// The county marks its key compromised from now on and seals another
	// licence with it: the province refuses that one by the county's trust
	// list alone, and still asks the county about the one sealed before.
	time.Sleep(1100 * time.Millisecond) // the first licence's iat is a whole second before
	from := time.Now().UTC().Format(time.RFC3339)
	county.p.must(200, "POST", "/api/v1/authorities/"+countyMarket+"/keys/"+issued["kid"].(string)+"/compromise", admin,
		map[string]string{"from": from, "reason": "签章服务器被入侵"})
	later := county.p.must(201, "POST", "/api/v1/certificates", issuer, map[string]any{"type": countyLicence, "authority": countyMarket,
		"holder":     map[string]string{"kind": "organisation", "id": company, "name": "杭州某某餐饮有限公司"},
		"data":       map[string]any{"permit_no": "JY13301020000010"},
		"valid_from": "2025-01-01", "valid_until": "2029-12-31"})["document"].(string)
	waitFor(t, 30*time.Second, "the province refuses the licence sealed after the compromise", func() (bool, string) {
		v := prov.p.verify(map[string]string{"document": later})
		// Without the county's registry record (status, certificate):
		// judged here, from the trust list the province now holds.
		return reasons(v) == "[key_compromised]" && hubOf(v) == countyHub && v["certificate"] == nil && v["status"] == nil, fmt.Sprint(v)
	})
	noCallBetween(t, county, prov, marker, func() {
		if v := prov.p.verify(map[string]string{"document": later}); reasons(v) != "[key_compromised]" || v["kid"] != issued["kid"] || v["certificate"] != nil {
			t.Fatalf("the licence sealed after the compromise: %v", v)
		}
	})
	if v := prov.p.verify(map[string]string{"document": doc}); reasons(v) != "[revoked]" {
		t.Fatalf("the licence sealed before the compromise: %v", v)
	}

	// A tampered document fails at the province, which asks no one.
	parts := strings.Split(doc, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "JY13301020000009", "JY13301020000001", 1))) + "." + parts[2]
	noCallBetween(t, county, prov, marker, func() {
		if v := prov.p.verify(map[string]string{"document": forged}); v["valid"] != false || reasons(v) != "[bad_signature]" || v["hub"] != nil {
			t.Fatalf("a tampered document at the province: %v", v)
		}
	})

	// The county goes down: the province still checks the signature with
	// the county's last good trust list, and says who failed.
	county.p.stop()
	v = prov.p.verify(map[string]string{"document": doc})
	if v["valid"] != false || reasons(v) != "[remote_unreachable]" || hubOf(v) != countyHub || v["kid"] != issued["kid"] ||
		v["authority"].(map[string]any)["code"] != countyMarket || v["certificate"] != nil {
		t.Fatalf("the province with the county down: %v", v)
	}
	if v := prov.p.verify(map[string]string{"id": id}); reasons(v) != "[remote_unreachable]" || hubOf(v) != countyHub {
		t.Fatalf("the province on the identifier with the county down: %v", v)
	}
	if v := prov.p.verify(map[string]string{"document": forged}); reasons(v) != "[bad_signature]" {
		t.Fatalf("a tampered document with the county down: %v", v)
	}
	// Nothing was kept from the failed calls: the refreshes go on, and the
	// answer stays remote_unreachable (not a cached revoked).
	time.Sleep(2 * time.Second)
	if v := prov.p.verify(map[string]string{"document": doc}); reasons(v) != "[remote_unreachable]" {
		t.Fatalf("the province later with the county down: %v", v)
	}

	// The county comes back, allowing one verification a minute: the
	// province's first call gets the county's verdict again, the next the
	// county's refusal (429), which the province reports as remote_hub.
	county.extra = append(county.extra, "--verify-rate", "1")
	county.start(t)
	if v := prov.p.verify(map[string]string{"document": doc}); reasons(v) != "[revoked]" || hubOf(v) != countyHub {
		t.Fatalf("the province with the county back: %v", v)
	}
	v = prov.p.verify(map[string]string{"id": id})
	if v["valid"] != false || reasons(v) != "[remote_hub]" || hubOf(v) != countyHub || v["status"] != nil {
		t.Fatalf("the province when the county refuses: %v", v)
	}
}
