package main_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/internal/verifyqr/verifyqrtest"
)

// verifyQR runs `certhub verify-qr` with stdin and returns its standard
// output, standard error and exit code.
func verifyQR(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"verify-qr"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// reportLine is what the report says after label, at the start of a line.
func reportLine(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, label+"  "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// TestVerifyQRCLI drives the built binary on real artifacts written to
// files as a verifier would cache them: the hub key's JWK, the trust list
// signing.Manager signs, a Token Status List, QR texts sealed with ES256
// and EdDSA seal keys, and a QR image rendered by internal/qr.
func TestVerifyQRCLI(t *testing.T) {
	t.Parallel()
	f := verifyqrtest.New(t)
	at := f.Now.Add(-time.Hour)
	const revoked, suspended, good = 17, 99_999, 4242
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hubKey := write("hub.jwk", f.HubJWK())
	trust := write("trust-list.jwt", f.TrustList(t, at))
	tsl := write("tsl-0.jwt", verifyqrtest.TSL(t, f.Hub, verifyqrtest.StatusURI(1), statuslist.MinSize,
		map[int]statuslist.Status{revoked: statuslist.Invalid, suspended: statuslist.Suspended}, at, at.Add(24*time.Hour), 5*time.Minute))
	otherTSL := write("tsl-1.jwt", verifyqrtest.TSL(t, f.Hub, verifyqrtest.StatusURI(2), statuslist.MinSize, nil, at, at.Add(24*time.Hour), 5*time.Minute))
	forgedTSL := write("tsl-forged.jwt", verifyqrtest.TSL(t, f.Other, verifyqrtest.StatusURI(1), statuslist.MinSize, nil, at, at.Add(24*time.Hour), 5*time.Minute))
	forgedTrust := write("trust-forged.jwt", func() []byte {
		b, err := f.Keys.TrustList(t.Context(), f.Other, verifyqrtest.Hub, nil, at)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}())
	lic := verifyqrtest.Licence("000001", "2029-12-31")
	valid := f.QR(t, f.ES256, lic, f.Now.Add(-time.Minute), good)
	qrPNG, err := qr.AlphanumericPNG(valid, 4)
	if err != nil {
		t.Fatal(err)
	}
	img := write("qr.png", qrPNG)
	notImage := write("not.png", []byte("not an image"))
	blank := write("blank.png", func() []byte {
		var b bytes.Buffer
		white := image.NewGray(image.Rect(0, 0, 300, 300))
		for i := range white.Pix {
			white.Pix[i] = 0xff
		}
		if err := png.Encode(&b, white); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}())
	now := "--now=" + f.Now.Format(time.RFC3339)
	types := write("licence-types.json", []byte(verifyqrtest.Types))
	files := []string{"--trust-list", trust, "--status-list", tsl, "--status-list", otherTSL, "--hub-key", hubKey, "--licence-types", types}
	compromised := verifyqrtest.Licence("000009", "2029-12-31")
	compromised.IssuerUSCC = verifyqrtest.Health
	// Signed by the retired key under the active key's kid.
	forged, err := compactqr.Encode(f.Retired.Signer, f.ES256.Thumbprint, compactqr.Input{Issuer: verifyqrtest.Hub, Licence: lic, Now: f.Now,
		Status: &compactqr.StatusRef{Idx: good, URI: verifyqrtest.StatusURI(1)}})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string // reason; "" for valid
	}{
		{"valid text", append([]string{valid, now}, files...), "", ""},
		{"valid EdDSA", append([]string{f.QR(t, f.EdDSA, lic, f.Now, good), now}, files...), "", ""},
		{"valid image", append([]string{"--image", img, now}, files...), "", ""},
		{"valid from stdin", append([]string{"-", now}, files...), valid + "\n", ""},
		{"forged signature", append([]string{forged, now}, files...), "", "bad_signature"},
		{"bad base45", append([]string{"CH1:AB~", now}, files...), "", "bad_base45"},
		{"revoked", append([]string{f.QR(t, f.ES256, lic, f.Now, revoked), now}, files...), "", "revoked"},
		{"suspended", append([]string{f.QR(t, f.EdDSA, lic, f.Now, suspended), now}, files...), "", "suspended"},
		{"expired", append([]string{f.QR(t, f.ES256, verifyqrtest.Licence("000002", "2025-06-30"), f.Now, good), now}, files...), "", "expired"},
		{"status index out of range", append([]string{f.QR(t, f.ES256, lic, f.Now, statuslist.MinSize+5), now}, files...), "", "bad_status_index"},
		{"compromised key", append([]string{f.QR(t, f.Compromised, compromised, f.CompromisedFrom.Add(time.Second), good), now}, files...), "", "key_compromised"},
		{"stale trust list", append([]string{valid, "--now=" + at.Add(24*time.Hour).Format(time.RFC3339)}, files...), "", "stale_lists"},
		{"trust list with a bad signature", []string{valid, now, "--trust-list", forgedTrust, "--status-list", tsl, "--hub-key", hubKey}, "", "bad_trust_list"},
		{"status list with a bad signature", []string{valid, now, "--trust-list", trust, "--status-list", forgedTSL, "--hub-key", hubKey}, "", "bad_status_list"},
		{"the QR's status list not given", []string{valid, now, "--trust-list", trust, "--status-list", otherTSL, "--hub-key", hubKey}, "", "status_unavailable"},
		{"hub key is the trust list", []string{valid, now, "--trust-list", trust, "--status-list", tsl, "--hub-key", trust}, "", "bad_hub_key"},
		{"trust list file missing", []string{valid, now, "--trust-list", filepath.Join(dir, "nope.jwt"), "--status-list", tsl, "--hub-key", hubKey}, "", "unreadable_file"},
		{"not an image", append([]string{"--image", notImage, now}, files...), "", "no_qr"},
		{"no QR in the image", append([]string{"--image", blank, now}, files...), "", "no_qr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := verifyQR(t, tc.stdin, tc.args...)
			if tc.want == "" {
				if code != 0 || reportLine(out, "compact QR") != "valid" || reportLine(out, "licence") != lic.ID ||
					!strings.HasPrefix(reportLine(out, "signed by"), verifyqrtest.MarketName) ||
					!strings.HasPrefix(reportLine(out, "trust list"), verifyqrtest.Hub+", issued "+at.Format(time.RFC3339)+" (1h0m0s ago)") ||
					reportLine(out, "status") != "valid (index 4242 of "+verifyqrtest.StatusURI(1)+")" {
					t.Fatalf("exit %d\n%s%s", code, out, stderr)
				}
				return
			}
			if code != 1 || !strings.HasPrefix(reportLine(out, "compact QR"), "NOT VALID: "+tc.want) || !strings.Contains(stderr, "the compact QR is NOT valid: "+tc.want) {
				t.Fatalf("exit %d, want 1 and %s:\n%s%s", code, tc.want, out, stderr)
			}
		})
	}

	// A version from before status lists: valid, with a warning.
	if out, stderr, code := verifyQR(t, "", append([]string{f.QR(t, f.ES256, lic, f.Now, -1), now}, files...)...); code != 0 ||
		reportLine(out, "compact QR") != "valid" || !strings.HasPrefix(reportLine(out, "  warning no_status"), "the QR names no status list entry") {
		t.Fatalf("no status reference: exit %d\n%s%s", code, out, stderr)
	}

	// --json: what it found, who signed it, how old the lists are.
	out, _, code := verifyQR(t, "", append([]string{f.QR(t, f.ES256, lic, f.Now, revoked), now, "--json"}, files...)...)
	var r struct {
		Valid   bool
		Reason  string
		Reasons []string
		Licence struct {
			ID         string
			IssuerName string `json:"issuer_name"`
			Fields     []struct {
				Number      uint64
				Name, Value string
			}
		}
		SignedBy struct {
			KID, Authority, State string
		} `json:"signed_by"`
		Status struct {
			URI   string
			Idx   int
			Value int
		}
		TrustList struct {
			URI        string
			AgeSeconds int64 `json:"age_seconds"`
			Stale      bool
		} `json:"trust_list"`
		StatusLists []struct {
			URI        string
			AgeSeconds int64 `json:"age_seconds"`
			TTL        int64
			RefreshDue bool `json:"refresh_due"`
		} `json:"status_lists"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != 1 || r.Valid || r.Reason != "revoked" || len(r.Reasons) != 1 || r.Licence.ID != lic.ID || r.Licence.IssuerName != verifyqrtest.MarketName ||
		len(r.Licence.Fields) != 2 || r.Licence.Fields[0].Number != 1 || r.Licence.Fields[0].Name != "permit_no" || r.Licence.Fields[0].Value != lic.Fields[1] ||
		r.SignedBy.KID != f.ES256.Key.KID || r.SignedBy.Authority != verifyqrtest.Market || r.SignedBy.State != "active" ||
		r.Status.URI != verifyqrtest.StatusURI(1) || r.Status.Idx != revoked || r.Status.Value != 1 ||
		r.TrustList.URI != verifyqrtest.Hub || r.TrustList.AgeSeconds != 3600 || r.TrustList.Stale ||
		len(r.StatusLists) != 2 || r.StatusLists[0].AgeSeconds != 3600 || r.StatusLists[0].TTL != 300 || !r.StatusLists[0].RefreshDue {
		t.Fatalf("--json, exit %d:\n%s", code, out)
	}

	// Neither or both of TEXT and --image; a bad --now.
	for _, args := range [][]string{append([]string{now}, files...), append([]string{valid, "--image", img, now}, files...),
		append([]string{valid, "--now=yesterday"}, files...)} {
		if out, stderr, code := verifyQR(t, "", args...); code != 1 || out != "" || stderr == "" {
			t.Fatalf("%v: exit %d, want 1 and a message:\n%s%s", args, code, out, stderr)
		}
	}
}

// fetchScript is how docs/verify-qr.md tells an operator to fetch the
// files.
const fetchScript = `set -euo pipefail
curl -fsS "$HUB/.well-known/certhub-trust-list" -o trust-list.jwt
KID=$(jq -R -r 'split(".")[0] | gsub("-";"+") | gsub("_";"/") | @base64d | fromjson | .kid' trust-list.jwt)
curl -fsS "$HUB/.well-known/jwks.json" | jq --arg kid "$KID" '.keys[] | select(.kid == $kid)' > hub.jwk
curl -fsS "$HUB/status/tsl/1" -o tsl-1.jwt
curl -fsS "$HUB/.well-known/certhub-licence-types" -o licence-types.json
`

// TestVerifyQRAgainstLiveHub runs a hub on a random port, issues licences
// and takes their compact QR from GET …/qr?form=compact&format=text,
// fetches the files with curl and jq as docs/verify-qr.md says, and
// verifies offline with the built binary: valid; a key marked compromised
// through the API fails the QR sealed since and not the one sealed before;
// a revocation shows in the next status list.
func TestVerifyQRAgainstLiveHub(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "curl", "Debian package curl")
	testenv.Tool(t, "jq", "Debian package jq")
	h := hubtest.New(t)
	call := func(method, path string, body any) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, h.Srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+h.Admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	call("POST", "/api/v1/authorities", map[string]string{"code": verifyqrtest.Market, "name": verifyqrtest.MarketName, "algorithm": "ES256"})
	call("POST", "/api/v1/types", map[string]any{"code": verifyqrtest.FoodLicence, "name": "食品经营许可证", "defining_authority": verifyqrtest.Market,
		"holder_kind": "organisation", "max_validity_days": 1827, "fields": []map[string]any{
			{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true},
			{"name": "address", "label": "经营场所", "type": "string", "required": true, "shareable": true}}})
	issue := func(no string) (id, text string) {
		t.Helper()
		var c struct{ ID string }
		if err := json.Unmarshal(call("POST", "/api/v1/certificates", map[string]any{"type": verifyqrtest.FoodLicence, "authority": verifyqrtest.Market,
			"holder": map[string]string{"kind": "organisation", "id": "91350100M000100Y43", "name": "福建某某餐饮有限公司"},
			"data":   map[string]any{"permit_no": no, "address": "杭州市上城区解放路1号"}, "valid_from": "2025-01-01", "valid_until": "2029-12-31"}), &c); err != nil {
			t.Fatal(err)
		}
		return c.ID, string(call("GET", "/api/v1/certificates/"+c.ID+"/qr?form=compact&format=text", nil))
	}
	first, firstQR := issue("JY13301000000001")
	h.Clock.Advance(time.Hour)
	_, secondQR := issue("JY13301000000002")

	dir := t.TempDir()
	fetch := func() {
		t.Helper()
		cmd := exec.Command("bash", "-c", fetchScript)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "HUB="+h.Srv.URL)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fetch: %v\n%s", err, out)
		}
	}
	run := func(text string) (string, string, int) {
		t.Helper()
		return verifyQR(t, "", text, "--now="+h.Clock.Now().Format(time.RFC3339), "--trust-list", filepath.Join(dir, "trust-list.jwt"),
			"--status-list", filepath.Join(dir, "tsl-1.jwt"), "--hub-key", filepath.Join(dir, "hub.jwk"),
			"--licence-types", filepath.Join(dir, "licence-types.json"))
	}
	fetch()
	// The PNG the hub serves for the same licence reads to a valid code too.
	pngFile := filepath.Join(dir, "first.png")
	if err := os.WriteFile(pngFile, call("GET", "/api/v1/certificates/"+first+"/qr?form=compact&format=png", nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := verifyQR(t, "", "--image", pngFile, "--now="+h.Clock.Now().Format(time.RFC3339), "--trust-list", filepath.Join(dir, "trust-list.jwt"),
		"--status-list", filepath.Join(dir, "tsl-1.jwt"), "--hub-key", filepath.Join(dir, "hub.jwk")); code != 0 || reportLine(out, "compact QR") != "valid" ||
		!regexp.MustCompile(`(?m)^  field 1 +JY13301000000001$`).MatchString(out) {
		t.Fatalf("the hub's PNG: exit %d\n%s%s", code, out, stderr)
	}
	for _, text := range []string{firstQR, secondQR} {
		if out, stderr, code := run(text); code != 0 || reportLine(out, "compact QR") != "valid" ||
			!strings.Contains(out, "  permit_no 许可证编号  ") || !strings.HasPrefix(reportLine(out, "issuer"), verifyqrtest.MarketName) ||
			!strings.HasPrefix(reportLine(out, "status"), "valid (index ") {
			t.Fatalf("exit %d\n%s%s", code, out, stderr)
		}
	}

	// The key is marked compromised from a minute before the second QR.
	var keys struct{ Keys []struct{ KID string } }
	if err := json.Unmarshal(call("GET", "/api/v1/authorities/"+verifyqrtest.Market+"/keys", nil), &keys); err != nil || len(keys.Keys) != 1 {
		t.Fatalf("keys: %v %+v", err, keys)
	}
	call("POST", "/api/v1/authorities/"+verifyqrtest.Market+"/keys/"+keys.Keys[0].KID+"/compromise",
		map[string]string{"from": h.Clock.Now().Add(-time.Minute).Format(time.RFC3339)})
	fetch()
	if out, stderr, code := run(firstQR); code != 0 || !strings.Contains(reportLine(out, "signed by"), "compromised from") {
		t.Fatalf("sealed before the compromise: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := run(secondQR); code != 1 || reportLine(out, "compact QR") != "NOT VALID: key_compromised" {
		t.Fatalf("sealed after the compromise: exit %d\n%s%s", code, out, stderr)
	}

	// Revoked: the next list the hub serves says so.
	call("POST", "/api/v1/certificates/"+first+"/revoke", map[string]string{"reason": "吊销"})
	h.Clock.Advance(10 * time.Second)
	fetch()
	if out, stderr, code := run(firstQR); code != 1 || reportLine(out, "compact QR") != "NOT VALID: revoked" {
		t.Fatalf("revoked: exit %d\n%s%s", code, out, stderr)
	}
}
