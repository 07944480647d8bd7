package federation_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// TestDirectoryJose proves the federation directory format with an
// independent implementation: jose 6, given only the root key file,
// verifies the county's directory the way a third party would (the root's
// entry by the root key, each further entry by the active key, chosen by
// its kid, of the already trusted parent that signed it, then the
// directory by the hub named as its iss), and finds the three hubs with
// the province signing for itself and the city and the city for the
// county. It refuses an entry changed without re-signing (even inside a
// directory re-signed as a whole), a directory changed without
// re-signing, and the directory after its exp; certhub's own
// VerifyDirectory agrees on each.
func TestDirectoryJose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{time.Now()}
	_, _, county, root := federation3(t, c)
	d := string(must(county.svc.Directory(ctx)))
	var claims map[string]any
	noErr(t, json.Unmarshal(must(base64.RawURLEncoding.DecodeString(strings.Split(d, ".")[1])), &claims))
	later := int64(claims["exp"].(float64)) + 60

	// The county's entry (signed by the city) pointed elsewhere and not
	// re-signed; the directory around it re-signed by the county, so only
	// the entry's own signature can tell.
	entries := claims["entries"].([]any)
	changed := false
	for i, e := range entries {
		if strings.Contains(string(must(base64.RawURLEncoding.DecodeString(strings.Split(e.(string), ".")[1]))), "county.example") {
			entries[i] = tamper(t, e.(string), func(m map[string]any) { m["url"] = "https://evil.example" })
			changed = true
		}
	}
	if !changed {
		t.Fatal("no county entry to tamper with")
	}
	tamperedEntry := string(must(county.key.Sign(must(json.Marshal(claims)), federation.DirectoryType)))
	// The directory's own payload changed: its exp pushed out an hour.
	tamperedDirectory := tamper(t, d, func(m map[string]any) { m["exp"] = m["exp"].(float64) + 3600 })

	// certhub agrees.
	v, err := federation.VerifyDirectory([]byte(d), root, c.now(), false)
	if err != nil || v.Issuer != "330102" || len(v.Hubs) != 3 {
		t.Fatalf("certhub refuses the directory or reads it wrong: %v %+v", err, v)
	}
	if _, err := federation.VerifyDirectory([]byte(tamperedEntry), root, c.now(), false); federation.ReasonOf(err) != federation.BadEntry {
		t.Errorf("certhub on the tampered entry: %v, want %s", err, federation.BadEntry)
	}
	if _, err := federation.VerifyDirectory([]byte(tamperedDirectory), root, c.now(), false); federation.ReasonOf(err) != federation.BadSignature {
		t.Errorf("certhub on the tampered directory: %v, want %s", err, federation.BadSignature)
	}
	if _, err := federation.VerifyDirectory([]byte(d), root, time.Unix(later, 0), false); federation.ReasonOf(err) != federation.ExpiredDirectory {
		t.Errorf("certhub after exp: %v, want %s", err, federation.ExpiredDirectory)
	}

	out := runJose(t, "testdata/directory-jose.mjs", map[string]any{
		"root": root, "directory": d, "tamperedEntry": tamperedEntry, "tamperedDirectory": tamperedDirectory, "later": later,
	})
	var res struct {
		OK struct {
			Issuer  string            `json:"issuer"`
			Root    string            `json:"root"`
			Hubs    []string          `json:"hubs"`
			Signers map[string]string `json:"signers"`
			Dropped []string          `json:"dropped"`
			Error   string            `json:"error"`
		} `json:"ok"`
		TamperedEntry     string `json:"tamperedEntry"`
		TamperedDirectory string `json:"tamperedDirectory"`
		Expired           string `json:"expired"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("jose: %s", out)
	wantSigners := map[string]string{"330000": "330000", "330100": "330000", "330102": "330100"}
	if res.OK.Error != "" || res.OK.Issuer != "330102" || res.OK.Root != root.HubID ||
		!slices.Equal(res.OK.Hubs, []string{"330000", "330100", "330102"}) || len(res.OK.Dropped) != 0 ||
		!maps.Equal(res.OK.Signers, wantSigners) {
		t.Errorf("jose refuses the directory or reads it wrong: %s", out)
	}
	for id, e := range v.Hubs { // and certhub read the same signers
		if e.Signer != wantSigners[id] {
			t.Errorf("certhub: hub %s signed by %s, want %s", id, e.Signer, wantSigners[id])
		}
	}
	if !strings.Contains(res.TamperedEntry, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
		t.Errorf("tampered entry: %s", res.TamperedEntry)
	}
	if !strings.Contains(res.TamperedDirectory, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
		t.Errorf("tampered directory: %s", res.TamperedDirectory)
	}
	if !strings.Contains(res.Expired, "ERR_JWT_EXPIRED") {
		t.Errorf("after exp: %s", res.Expired)
	}
}

// TestFederationTrustListJose proves the federation trust list with jose
// 6: given only the province's hub key, it verifies the list, and inside
// it the county's trust list with the county key the list names; a list
// changed without re-signing is refused.
func TestFederationTrustListJose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{time.Now()}
	prov, _, county, _ := federation3(t, c)
	keys := sealKeys(t, county)
	must(keys.CreateKey(ctx, "11330102MB0000001K", signing.ES256))
	tl := must(keys.TrustList(ctx, county.key, "https://county.example", nil, c.now()))
	noErr(t, prov.store.PutDirectory(ctx, "trust-list:330102", tl, c.now()))
	noErr(t, prov.store.PutDirectory(ctx, "licence-types:330102", []byte(`{"profile":"CH1","types":{"11330102MB0000001K002":{"name":"食品经营许可证"}}}`), c.now()))
	c.t = c.t.Add(2 * time.Second) // past the cached view
	list := string(must(prov.svc.FederationTrustList(ctx)))
	tampered := tamper(t, list, func(m map[string]any) { m["exp"] = m["exp"].(float64) + 86400 })

	out := runJose(t, "testdata/federation-trust-list-jose.mjs", map[string]any{"hubKey": json.RawMessage(prov.key.PublicJWK()), "list": list, "tampered": tampered})
	var res struct {
		OK struct {
			Iss   string `json:"iss"`
			Error string `json:"error"`
			Hubs  []struct {
				ID    string   `json:"id"`
				Iss   string   `json:"iss"`
				Keys  int      `json:"keys"`
				Types []string `json:"types"`
			} `json:"hubs"`
		} `json:"ok"`
		Tampered string `json:"tampered"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("jose: %s", out)
	if res.OK.Error != "" || res.OK.Iss != "https://prov.example" || len(res.OK.Hubs) != 1 || res.OK.Hubs[0].ID != "330102" ||
		res.OK.Hubs[0].Iss != "https://county.example" || res.OK.Hubs[0].Keys != 1 || len(res.OK.Hubs[0].Types) != 1 {
		t.Errorf("jose reads the federation trust list wrong: %s", out)
	}
	if !strings.Contains(res.Tampered, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
		t.Errorf("tampered: %s", res.Tampered)
	}
}

// runJose runs a script of testdata with jose 6 (npm), the input as JSON on
// its stdin, and returns what it printed.
func runJose(t *testing.T, script string, input any) []byte {
	t.Helper()
	node, dir := testenv.NPM(t, "jose@6")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(script)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, name)
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(must(json.Marshal(input)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", name, err, stderr.String())
	}
	return out
}
