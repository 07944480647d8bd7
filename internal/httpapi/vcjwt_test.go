package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/testenv"
)

// Independent VC-JWT verifiers accept a new document: npm did-jwt-vc
// 4.0.16 (with did-jwt 8) verifies its signature with the authority's key
// from /.well-known/jwks.json and its iss, iat, nbf and exp; jose 6's
// jwtVerify checks the same, with issuer, typ and the validity bounds at
// the edges of nbf and exp. A tampered document fails both, and a document
// of the old format (no registered claims) is refused by did-jwt-vc, which
// is why the claims exist (issue 13).
func TestVCJWTPeers(t *testing.T) {
	t.Parallel()
	node, dir := testenv.NPM(t, "did-jwt-vc@4.0.16", "did-jwt@8", "jose@6")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script, err := os.ReadFile("testdata/vcjwt-peers.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "peers.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}

	h := newHub(t)
	h.seed()
	h.seedFoodType()
	var cert struct{ ID, KID, Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	parts := strings.Split(cert.Document, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	// Tampered: the holder's name changed, the signature kept.
	forged := bytes.Replace(raw, []byte("福建某某科技有限公司"), []byte("福建另一科技有限公司"), 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	// Old format: the same payload without the registered claims, sealed
	// with the same key, as documents were before issue 13.
	for _, k := range []string{"iss", "jti", "iat", "nbf", "exp"} {
		delete(payload, k)
	}
	oldPayload, _ := json.Marshal(payload)
	old, _, err := h.Certs.Keys.Seal(context.Background(), marketCode, oldPayload)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{
		"jwks": json.RawMessage(h.getPublic("/.well-known/jwks.json")), "kid": cert.KID,
		"doc": cert.Document, "tampered": tampered, "old": string(old), "issuer": "urn:uscc:" + marketCode,
	})
	cmd := exec.CommandContext(ctx, node, "peers.mjs")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	type result struct {
		OK            bool
		Error, Claim  string
		Iss, JTI      string
		IAT, NBF, EXP int64
	}
	var got map[string]result
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	t.Logf("peers: %s", outb)

	// 2020-05-01T00:00:00+08:00 and 2030-04-28T00:00:00+08:00 (the first
	// second after valid_until 2030-04-27).
	const nbf, exp = 1588262400, 1903536000
	iss := "urn:uscc:" + marketCode
	if r := got["didjwtvc"]; !r.OK || r.Iss != iss || r.NBF != nbf || r.EXP != exp || r.JTI != cert.ID {
		t.Errorf("did-jwt-vc on the new document: %+v", r)
	}
	if r := got["jose"]; !r.OK || r.Iss != iss || r.JTI != cert.ID || r.NBF != nbf || r.EXP != exp || r.IAT == 0 {
		t.Errorf("jose on the new document: %+v", r)
	}
	for name, claim := range map[string]string{"joseWrongIssuer": "iss", "joseBeforeNbf": "nbf", "joseAtExp": "exp"} {
		if r := got[name]; r.OK || r.Claim != claim {
			t.Errorf("%s: %+v, want a failure on %s", name, r, claim)
		}
	}
	for _, name := range []string{"joseAtNbf", "joseLastSecond"} {
		if r := got[name]; !r.OK {
			t.Errorf("%s: %+v", name, r)
		}
	}
	for _, name := range []string{"didjwtvcTampered", "joseTampered"} {
		if r := got[name]; r.OK || !strings.Contains(strings.ToLower(r.Error), "signature") {
			t.Errorf("%s: %+v, want a signature failure", name, r)
		}
	}
	// The old format verifies as a JWS, but generic VC-JWT verifiers
	// refuse it for want of the registered claims (certhub itself still
	// accepts it: certificates.TestDocumentClaimsAgreeWithCredential).
	if r := got["didjwtvcOld"]; r.OK || !strings.Contains(r.Error, "iss") {
		t.Errorf("did-jwt-vc on an old-format document: %+v", r)
	}
	if r := got["joseOld"]; r.OK || r.Claim != "iss" {
		t.Errorf("jose on an old-format document: %+v", r)
	}
}
