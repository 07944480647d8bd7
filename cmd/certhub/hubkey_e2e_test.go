package main_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hubKeys reads a hub's keys as another hub's federation status lists
// them: kid → state.
func hubKeys(t *testing.T, at *fedHub, hub string) map[string]string {
	t.Helper()
	out := map[string]string{}
	st := at.p.must(200, "GET", "/api/v1/federation", admin, nil)
	for _, h := range st["hubs"].([]any) {
		e := h.(map[string]any)
		if e["hub_id"] != hub {
			continue
		}
		for _, k := range e["keys"].([]any) {
			k := k.(map[string]any)
			out[k["kid"].(string)] = k["state"].(string)
		}
	}
	return out
}

// TestFederationKeyRotation: a county rotates its hub key in two phases
// while the federation runs — published inactive, activated by the county
// itself once its parent's directory lists the key, the old one retired —
// and the province learns each state; what the county pushes afterwards,
// signed by the new key, is applied two levels up. Then the root rotates:
// its operator gives out the root key file that lists both keys, and
// activates; every hub's directory then verifies with the new file, not
// with the old one. The ledgers record each step.
func TestFederationKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFederation(t, "--hub-key-activate-after", "2s")
	prov, city, county := f.prov, f.city, f.county
	issuer, typ := countySetup(t, county.p)
	waitFor(t, 60*time.Second, "the province knows the county", func() (bool, string) {
		k := hubKeys(t, prov, "330102")
		return len(k) == 1, ""
	})
	var show struct{ Active string }
	if err := json.Unmarshal(printed(county.cli(t, "hub-key", "show")), &show); err != nil {
		t.Fatal(err)
	}
	old := show.Active
	var rotated struct {
		Generation int
		KID        string
		State      string
	}
	if err := json.Unmarshal(printed(county.cli(t, "hub-key", "rotate")), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.Generation != 2 || rotated.State != "inactive" || rotated.KID == old {
		t.Fatalf("rotate printed %+v", rotated)
	}
	if out, code := certhubEnv(t, county.env, append([]string{"hub-key", "rotate"}, county.args...)...); code == 0 || !strings.Contains(out, "not yet active") {
		t.Fatalf("a second rotation while one is pending: exit %d: %s", code, out)
	}
	// The running hub reads the new generation at its next refresh and
	// publishes it beside the active one.
	waitFor(t, 30*time.Second, "the county's JWKS lists both keys", func() (bool, string) {
		jwks := county.p.do("GET", "/.well-known/jwks.json", "", nil)
		return strings.Contains(string(jwks.body), rotated.KID) && strings.Contains(string(jwks.body), old), string(jwks.body)
	})
	waitFor(t, 60*time.Second, "the province holds the county's new key active and the old one retired", func() (bool, string) {
		k := hubKeys(t, prov, "330102")
		return k[old] == "retired" && k[rotated.KID] == "active", ""
	})
	if h := county.p.do("GET", "/.well-known/certhub-hub", "", nil); !strings.HasPrefix(string(h.body), "eyJ") {
		t.Fatalf("the county's description: %d %s", h.status, h.body)
	} else if kidOf(t, string(h.body)) != rotated.KID {
		t.Fatalf("the county's description is signed by %s, want the new key %s", kidOf(t, string(h.body)), rotated.KID)
	}
	// Pushed and applied two levels up, signed by the new key.
	c := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301029001"))
	waitAggregated(t, prov, map[string]string{c["id"].(string): "valid"})

	// The root rotates: the file that lists both keys goes out first.
	prov.cli(t, "hub-key", "rotate")
	both := filepath.Join(f.dir, "root-2.json")
	prov.cli(t, "federation", "root-key", "--out", both)
	city.cli(t, "federation", "init", "--hub-id", "330100", "--name", "杭州市电子证照库", "--url", city.url,
		"--parent", "330000", "--parent-url", prov.url, "--root-key", both)
	county.cli(t, "federation", "init", "--hub-id", "330102", "--name", "上城区电子证照库", "--url", county.url,
		"--parent", "330100", "--parent-url", city.url, "--root-key", both)
	time.Sleep(3 * time.Second) // the root never activates by itself
	if k := hubKeys(t, prov, "330000"); len(k) != 2 || !strings.Contains(strings.Join(mapValues(k), ","), "inactive") {
		t.Fatalf("the root's keys before its operator activates: %v", k)
	}
	prov.cli(t, "hub-key", "activate")
	waitFor(t, 30*time.Second, "the root signs with its new key", func() (bool, string) {
		out, code := certhubEnv(t, nil, "federation", "verify-directory", prov.url, "--root-key", f.rootKey)
		return code == 1 && strings.Contains(out, "bad_entry"), out
	})
	for _, h := range []*fedHub{prov, city, county} {
		waitFor(t, 60*time.Second, "the directory of "+h.id+" verifies with the new root key file", func() (bool, string) {
			out, code := certhubEnv(t, nil, "federation", "verify-directory", h.url, "--root-key", both)
			return code == 0 && strings.Contains(out, ": 3 hubs"), out
		})
	}
	c2 := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301029002"))
	waitAggregated(t, prov, map[string]string{c["id"].(string): "valid", c2["id"].(string): "valid"})

	// The ledgers: the county's rotation and activation, the city's
	// taking the new keys in.
	for _, h := range []*fedHub{county, city} {
		h.p.stop()
		h.cli(t, "audit", "verify")
	}
	for h, want := range map[*fedHub][]string{
		county: {`"action":"hub_key_rotate"`, `"action":"hub_key_activate"`, rotated.KID},
		city:   {`"action":"federation_hub_keys"`, rotated.KID + " (active)"},
	} {
		bundle := filepath.Join(f.dir, h.id+"-ledger.jsonl")
		h.cli(t, "audit", "export", "--out", bundle)
		b, err := os.ReadFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("the ledger of %s lacks %s", h.id, w)
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// kidOf reads the kid of a compact JWS's protected header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// printed is the indented JSON a command printed, without the log lines
// (one line each) around it.
func printed(out string) []byte {
	if i := strings.Index(out, "{\n"); i >= 0 {
		out = out[i:]
		if j := strings.Index(out, "\n}"); j >= 0 {
			out = out[:j+2]
		}
	}
	return []byte(out)
}
