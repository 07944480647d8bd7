package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/testenv"
)

// statusHub issues three licences and a revision of the third, and returns
// the hub and the four documents: a (to be revoked), b (to be suspended),
// c (superseded by d).
func statusHub(t *testing.T, opts ...hubtest.Option) (*hub, map[string]issuedDoc) {
	t.Helper()
	h := newHub(t, opts...)
	h.seed()
	docs := map[string]issuedDoc{}
	for _, name := range []string{"a", "b", "c"} {
		var d issuedDoc
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &d); st != 201 {
			t.Fatalf("issue: %d", st)
		}
		docs[name] = d
	}
	var d issuedDoc
	if st := h.call("POST", "/api/v1/certificates/"+docs["c"].ID+"/revisions", h.Admin, map[string]any{"data": map[string]any{
		"legal_representative": "李四", "established_on": "2020-05-01", "capital": 200}, "reason": "变更"}, &d); st != 201 {
		t.Fatalf("revise: %d", st)
	}
	docs["d"] = d
	return h, docs
}

type issuedDoc struct{ ID, Document string }

// docStatus is what a verifier reads for one document.
type docStatus struct {
	Idx        int    `json:"idx"`
	TSL        int    `json:"tsl"`
	Revocation int    `json:"revocation"`
	Suspension int    `json:"suspension"`
	TSLLength  int    `json:"tslLength"`
	BSLLength  int    `json:"bslLength"`
	TTL        int    `json:"ttl"`
	ExpIn      int    `json:"expIn"`
	Error      string `json:"error"`
}

func (h *hub) lifecycle(id, action string) {
	h.t.Helper()
	if st := h.call("POST", "/api/v1/certificates/"+id+"/"+action, h.Admin, map[string]string{"reason": "检查"}, nil); st != 200 {
		h.t.Fatalf("%s %s: %d", action, id, st)
	}
	// A replica reads the store again once statusFresh (5 s) has passed.
	h.Clock.Advance(6 * time.Second)
}

// stages drives the lifecycle and asks check what verifiers read at each
// stage: all valid; a revoked, b suspended (c superseded throughout); b
// reinstated.
func stages(t *testing.T, h *hub, docs map[string]issuedDoc, check func(t *testing.T, documents []string) []docStatus) {
	order := []string{"a", "b", "c", "d"}
	documents := make([]string, len(order))
	for i, n := range order {
		documents[i] = docs[n].Document
	}
	want := func(t *testing.T, stage string, w map[string][3]int) {
		t.Helper()
		got := check(t, documents)
		if len(got) != len(order) {
			t.Fatalf("%s: %d answers", stage, len(got))
		}
		for i, n := range order {
			g := got[i]
			if g.Error != "" {
				t.Fatalf("%s: %s: %s", stage, n, g.Error)
			}
			if [3]int{g.TSL, g.Revocation, g.Suspension} != w[n] {
				t.Errorf("%s: %s (index %d): tsl %d, revocation %d, suspension %d; want %v", stage, n, g.Idx, g.TSL, g.Revocation, g.Suspension, w[n])
			}
			if g.TSLLength != statuslist.MinSize || g.BSLLength != statuslist.MinSize {
				t.Errorf("%s: list lengths %d and %d", stage, g.TSLLength, g.BSLLength)
			}
		}
	}
	want(t, "issued", map[string][3]int{"a": {0, 0, 0}, "b": {0, 0, 0}, "c": {1, 1, 0}, "d": {0, 0, 0}})
	h.lifecycle(docs["a"].ID, "revoke")
	h.lifecycle(docs["b"].ID, "suspend")
	want(t, "revoked and suspended", map[string][3]int{"a": {1, 1, 0}, "b": {2, 0, 1}, "c": {1, 1, 0}, "d": {0, 0, 0}})
	h.lifecycle(docs["b"].ID, "reinstate")
	want(t, "reinstated", map[string][3]int{"a": {1, 1, 0}, "b": {0, 0, 0}, "c": {1, 1, 0}, "d": {0, 0, 0}})
}

// TestStatusListsIndependent: npm @digitalbazaar/vc-bitstring-status-list
// 2.0.1, @sd-jwt/jwt-status-list 0.19.0 and jose 6 follow each document's
// references to the live hub, check the hub key's signature, and read the
// bits flip with revoke, suspend and reinstate.
func TestStatusListsIndependent(t *testing.T) {
	t.Parallel()
	node, dir := testenv.NPM(t, "@digitalbazaar/vc-bitstring-status-list@2.0.1", "@sd-jwt/jwt-status-list@0.19.0", "jose@6")
	script, err := os.ReadFile("testdata/statuslist-check.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}
	h, docs := statusHub(t)
	stages(t, h, docs, func(t *testing.T, documents []string) []docStatus {
		in, _ := json.Marshal(map[string]any{"jwks": json.RawMessage(h.getPublic("/.well-known/jwks.json")),
			"kid": h.API.AccessTokens.Key.KID(), "documents": documents})
		var res struct {
			Documents []docStatus
			Tampered  string
		}
		runJSON(t, exec.Command(node, "check.mjs"), dir, in, &res)
		if !strings.Contains(res.Tampered, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
			t.Errorf("a changed list: %s", res.Tampered)
		}
		for _, d := range res.Documents {
			if d.Error == "" && (d.TTL != 3600 || d.ExpIn != 86400) {
				t.Errorf("ttl %d, exp-iat %d; want 3600 and 86400", d.TTL, d.ExpIn)
			}
		}
		return res.Documents
	})
}

// TestStatusListsPython: a stdlib-only Python reader written from the
// specifications reads the same bits, on PostgreSQL.
func TestStatusListsPython(t *testing.T) {
	t.Parallel()
	py := testenv.Tool(t, "/usr/bin/python3", "Debian python3")
	h, docs := statusHub(t, hubtest.OnPostgres())
	stages(t, h, docs, func(t *testing.T, documents []string) []docStatus {
		in, _ := json.Marshal(map[string]any{"documents": documents})
		var res []docStatus
		runJSON(t, exec.Command(py, "testdata/statuslist_decode.py"), "", in, &res)
		return res
	})
}

func runJSON(t *testing.T, cmd *exec.Cmd, dir string, in []byte, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Dir, c.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	b, err := c.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd.Path, err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestStatusListEndpoints: public (no token needed, a token changes
// nothing), signed by the hub key with the right typ and content type,
// cached with a strong ETag (304 on If-None-Match), the same bytes until
// the bits change, signed again when they do, and precise errors for a
// malformed or unknown list.
func TestStatusListEndpoints(t *testing.T) {
	t.Parallel()
	h, docs := statusHub(t)
	// A list is signed again when a new 5-minute window starts: keep this
	// test's 12 clock seconds inside one window.
	if now := h.Clock.Now(); now.Add(30*time.Second).Truncate(5*time.Minute) != now.Truncate(5*time.Minute) {
		h.Clock.Advance(40 * time.Second)
	}
	var ref struct {
		Status statuslist.Claim `json:"status"`
	}
	payloadOf(t, docs["a"].Document, &ref)
	list := strings.TrimPrefix(ref.Status.StatusList.URI, h.Srv.URL+"/status/tsl/")
	paths := map[string]string{
		"/status/tsl/" + list:                 statuslist.TSLMediaType,
		"/status/bsl/" + list + "-revocation": statuslist.BSLMediaType,
		"/status/bsl/" + list + "-suspension": statuslist.BSLMediaType,
	}
	hubKey, err := jwk.ParseKey(h.API.AccessTokens.Key.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for path, media := range paths {
		st, hdr, body := h.raw("GET", path, "", "", nil)
		if st != 200 || hdr.Get("Content-Type") != media || !strings.HasPrefix(hdr.Get("ETag"), `"`) ||
			hdr.Get("Cache-Control") != "public, max-age=60" || hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET %s: %d %v %s", path, st, hdr, body)
		}
		// With a token the answer is the same bytes: nothing more leaks.
		st2, _, body2 := h.raw("GET", path, h.Admin, "", nil)
		if st2 != 200 || !bytes.Equal(body, body2) {
			t.Fatalf("GET %s with a token: %d, same bytes %v", path, st2, bytes.Equal(body, body2))
		}
		if _, err := jws.Verify(body, jws.WithKey(jwa.EdDSA(), hubKey)); err != nil {
			t.Fatalf("%s is not signed by the hub key: %v", path, err)
		}
		msg, err := jws.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := msg.Signatures()[0].ProtectedHeaders().Type()
		if want := map[string]string{statuslist.TSLMediaType: "statuslist+jwt", statuslist.BSLMediaType: "vc+jwt"}[media]; typ != want {
			t.Errorf("%s: typ %q, want %q", path, typ, want)
		}
		if bytes.Contains(msg.Payload(), []byte(companyID)) || bytes.Contains(msg.Payload(), []byte(docs["a"].ID)) {
			t.Errorf("%s names a holder or certificate: %s", path, msg.Payload())
		}
		st, hdr304, _ := h.raw("GET", path, "", "", nil, "If-None-Match", `"x", `+hdr.Get("ETag"))
		if st != http.StatusNotModified || hdr304.Get("ETag") != hdr.Get("ETag") {
			t.Errorf("If-None-Match %s: %d", hdr.Get("ETag"), st)
		}
		bodies[path] = body
	}
	var bsl statuslist.BSLCredential
	payloadOf(t, string(bodies["/status/bsl/"+list+"-revocation"]), &bsl)
	if bsl.Issuer != h.Srv.URL || bsl.ID != h.Srv.URL+"/status/bsl/"+list+"-revocation" || bsl.CredentialSubject.ID != bsl.ID+"#list" ||
		bsl.CredentialSubject.StatusPurpose != statuslist.Revocation || bsl.Type[1] != "BitstringStatusListCredential" {
		t.Errorf("BSL credential %+v", bsl)
	}

	// Past the freshness window with nothing changed: the same bytes.
	h.Clock.Advance(6 * time.Second)
	for path := range paths {
		if _, _, body := h.raw("GET", path, "", "", nil); !bytes.Equal(body, bodies[path]) {
			t.Errorf("%s signed again with no change:\n%s\n%s", path, body, bodies[path])
		}
	}
	// Revoking a: the TSL and the revocation list change, the suspension
	// list keeps its bytes.
	h.lifecycle(docs["a"].ID, "revoke")
	for path := range paths {
		_, _, body := h.raw("GET", path, "", "", nil)
		if changed := !bytes.Equal(body, bodies[path]); changed != !strings.HasSuffix(path, "suspension") {
			t.Errorf("%s changed: %v", path, changed)
		}
	}

	// A new window: signed again, later iat, same bits.
	tslPath := "/status/tsl/" + list
	_, _, before := h.raw("GET", tslPath, "", "", nil)
	h.Clock.Advance(5 * time.Minute)
	_, _, after := h.raw("GET", tslPath, "", "", nil)
	var c1, c2 statuslist.TSLClaims
	payloadOf(t, string(before), &c1)
	payloadOf(t, string(after), &c2)
	if c2.IssuedAt != c1.IssuedAt+300 || c2.Expires != c2.IssuedAt+86400 || c2.StatusList != c1.StatusList || c2.IssuedAt%300 != 0 {
		t.Errorf("after 5 minutes: iat %d→%d, exp %d, same list %v", c1.IssuedAt, c2.IssuedAt, c2.Expires, c2.StatusList == c1.StatusList)
	}

	for _, tc := range []struct {
		path, field, reason string
		status              int
	}{
		{"/status/tsl/abc", "list", "not a list number", 400},
		{"/status/tsl/0", "list", "numbered from 1", 400},
		{"/status/tsl/007", "list", "not a list number", 400},
		{"/status/bsl/" + list, "list", "not <number>-revocation", 400},
		{"/status/bsl/" + list + "-refresh", "list", "neither revocation nor suspension", 400},
		{"/status/tsl/99", "list", "status list tsl/99 does not exist", 404},
		{"/status/bsl/99-suspension", "list", "status list bsl/99-suspension does not exist", 404},
	} {
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		if st := h.call("GET", tc.path, "", nil, &e); st != tc.status || e.Error.Field != tc.field || !strings.Contains(e.Error.Message, tc.reason) {
			t.Errorf("GET %s: %d %+v; want %d naming %s (%s)", tc.path, st, e.Error, tc.status, tc.field, tc.reason)
		}
	}
}

func payloadOf(t *testing.T, compact string, out any) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %.60s", compact)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
}
