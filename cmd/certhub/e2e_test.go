package main_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "certhub-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "certhub")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build certhub: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running certhub serve.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	logs bytes.Buffer
}

// start runs `certhub serve` on a random port and waits until it listens.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t}
	p.cmd = exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(60 * time.Second):
		p.stop()
		t.Fatalf("hub did not start:\n%s", p.log())
	}
	t.Cleanup(p.stop)
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", a.status, a.body)
	}
	return m
}

func (p *proc) do(method, path, token string, body any, headers ...string) answer {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string: // a raw body (YAML, say)
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func (p *proc) must(status int, method, path, token string, body any, headers ...string) map[string]any {
	p.t.Helper()
	a := p.do(method, path, token, body, headers...)
	if a.status != status {
		p.t.Fatalf("%s %s: %d, want %d: %s", method, path, a.status, status, a.body)
	}
	if len(a.body) == 0 {
		return nil
	}
	return a.json(p.t)
}

func (p *proc) verify(body map[string]string) map[string]any {
	p.t.Helper()
	return p.must(200, "POST", "/api/v1/verify", "", body)
}

const (
	market  = "11330100MB0000001R"
	licence = market + "002"
	company = "91350100M000100Y43"
	admin   = "e2e-admin-token"
)

var purpose = []string{"X-Purpose", "SX-FOOD-NEW", "X-Case-Id", "2026-E2E-0001"}

func certhub(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// setup creates the catalog and an issuer token on a fresh hub.
func setup(t *testing.T, p *proc) (issuer, consumer string) {
	t.Helper()
	p.must(201, "POST", "/api/v1/authorities", admin, map[string]string{"code": market, "name": "杭州市市场监督管理局", "algorithm": "ES256"})
	p.must(201, "POST", "/api/v1/types", admin, map[string]any{"code": licence, "name": "食品经营许可证", "defining_authority": market,
		"holder_kind": "organisation", "max_validity_days": 1827, "fields": []map[string]any{
			{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true},
			{"name": "address", "label": "经营场所", "type": "string", "required": true, "shareable": true}}})
	issuer = p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "审批系统", "role": "issuer", "authority": market})["token"].(string)
	// A department system with an approved agreement over the permit.
	p.must(201, "POST", "/api/v1/purposes", admin, map[string]string{"code": "SX-FOOD-NEW", "name": "食品经营许可 新办", "kind": "service_item"})
	csm := p.must(201, "POST", "/api/v1/consumers", admin, map[string]string{"name": "受理平台", "uscc": company})["id"].(string)
	agr := p.must(201, "POST", "/api/v1/agreements", admin, map[string]any{"consumer": csm, "purposes": []string{"SX-FOOD-NEW"},
		"grants":     []map[string]any{{"type": licence, "fields": []string{"permit_no", "address", "holder_name"}, "document": true}},
		"valid_from": "2026-01-01", "valid_until": "2099-12-31"})["id"].(string)
	p.must(200, "POST", "/api/v1/agreements/"+agr+"/approve", admin, map[string]string{})
	consumer = p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "受理平台", "role": "consumer", "consumer": csm})["token"].(string)
	return issuer, consumer
}

func permit(no string) map[string]any {
	return map[string]any{"type": licence, "authority": market,
		"holder":     map[string]string{"kind": "organisation", "id": company, "name": "福建某某餐饮有限公司"},
		"data":       map[string]any{"permit_no": no, "address": "福州市鼓楼区五四路1号"},
		"valid_from": "2025-01-01", "valid_until": "2029-12-31"}
}

func reasons(m map[string]any) string { return fmt.Sprint(m["reasons"]) }

// TestEmbeddedJourney drives the built binary on the embedded default like a
// department and a window would.
func TestEmbeddedJourney(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}
	p := start(t, env, "--data", data)
	issuer, consumer := setup(t, p)

	// Issue, with a retry carrying the same Idempotency-Key.
	first := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY13301020000001"), "Idempotency-Key", "req-1")
	retry := p.do("POST", "/api/v1/certificates", issuer, permit("JY13301020000001"), "Idempotency-Key", "req-1")
	if retry.status != 200 || retry.json(t)["id"] != first["id"] || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", retry.status, retry.body)
	}
	if a := p.do("POST", "/api/v1/certificates", issuer, permit("OTHER"), "Idempotency-Key", "req-1"); a.status != 409 {
		t.Fatalf("key reused for another request: %d %s", a.status, a.body)
	}
	id1 := first["id"].(string)
	doc1 := first["document"].(string)
	if first["status"] != "valid" || first["status_code"] != "01" || first["version"] != float64(1) {
		t.Fatalf("issued: %v", first)
	}

	// The document is a JWS with a VC 2.0 payload, verifiable offline against the JWKS.
	hdrB, _ := base64.RawURLEncoding.DecodeString(strings.Split(doc1, ".")[0])
	var hdr map[string]any
	_ = json.Unmarshal(hdrB, &hdr)
	if hdr["alg"] != "ES256" || hdr["kid"] == nil || hdr["typ"] != "vc+jwt" {
		t.Fatalf("header = %v", hdr)
	}
	set, err := jwk.Parse(p.do("GET", "/.well-known/jwks.json", "", nil).body)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(doc1), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		t.Fatalf("offline verification: %v", err)
	}
	var vc map[string]any
	_ = json.Unmarshal(payload, &vc)
	if vc["id"] != id1 || vc["issuer"].(map[string]any)["id"] != "urn:uscc:"+market || vc["validFrom"] == nil ||
		!strings.Contains(fmt.Sprint(vc["@context"]), "https://www.w3.org/ns/credentials/v2") {
		t.Fatalf("payload = %v", vc)
	}

	// Look up: a department must name purpose and case.
	p.must(400, "GET", "/api/v1/certificates?holder_id="+company, consumer, nil)
	found := p.must(200, "GET", "/api/v1/certificates?holder_id="+company+"&type="+licence+"&status=valid", consumer, nil, purpose...)
	if list := found["certificates"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != id1 {
		t.Fatalf("lookup = %v", found)
	}
	got := p.do("GET", "/api/v1/certificates/"+id1+"/document", consumer, nil, purpose...)
	if got.status != 200 || string(got.body) != doc1 {
		t.Fatalf("document download: %d", got.status)
	}

	// Verify: genuine, then tampered, then by identifier (which reveals no holder id or data).
	v := p.verify(map[string]string{"document": doc1})
	if v["valid"] != true || v["status"] != "valid" || v["current"] != true || v["kid"] != hdr["kid"] {
		t.Fatalf("verify genuine: %v", v)
	}
	parts := strings.Split(doc1, ".")
	forged := strings.Replace(string(payload), "五四路1号", "五四路9号", 1)
	v = p.verify(map[string]string{"document": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]})
	if v["valid"] != false || reasons(v) != "[bad_signature]" {
		t.Fatalf("verify tampered: %v", v)
	}
	for _, junk := range []string{"not a jws", "a.b.c", "eyJhbGciOiJub25lIn0.e30."} {
		if v := p.verify(map[string]string{"document": junk}); v["valid"] != false || len(v["reasons"].([]any)) == 0 {
			t.Fatalf("verify %q: %v", junk, v)
		}
	}
	byID := p.do("POST", "/api/v1/verify", "", map[string]string{"id": id1})
	if strings.Contains(string(byID.body), company) || strings.Contains(string(byID.body), "五四路") || strings.Contains(string(byID.body), "福建某某") {
		t.Fatalf("verify by id leaks holder data: %s", byID.body)
	}
	if m := byID.json(t); m["valid"] != true || !strings.HasPrefix(m["certificate"].(map[string]any)["holder"].(map[string]any)["name"].(string), "福建") {
		t.Fatalf("verify by id: %s", byID.body)
	}
	if v := p.verify(map[string]string{"id": id1[:len(id1)-1] + "Z"}); reasons(v) != "[malformed_identifier]" {
		t.Fatalf("bad check character: %v", v)
	}

	// The licence as a PDF, uploaded back to /api/v1/verify as a file.
	if pdf := p.do("GET", "/api/v1/certificates/"+id1+"/file?format=pdf", admin, nil); pdf.status == 200 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "licence.pdf")
		_, _ = fw.Write(pdf.body)
		_ = mw.Close()
		up := p.do("POST", "/api/v1/verify", "", body.String(), "Content-Type", mw.FormDataContentType())
		if m := up.json(t); up.status != 200 || m["valid"] != true || m["form"] != "pdf" || m["certificate"].(map[string]any)["id"] != id1 {
			t.Fatalf("verify the PDF: %d %s", up.status, up.body)
		}
	} else if pdf.status != 503 {
		t.Fatalf("PDF: %d %s", pdf.status, pdf.body)
	}

	// Revise: version 2 is current, version 1 says it was superseded.
	rev := p.must(201, "POST", "/api/v1/certificates/"+id1+"/revisions", issuer, map[string]any{
		"data": map[string]any{"permit_no": "JY13301020000001", "address": "福州市鼓楼区五四路88号"}, "reason": "经营场所变更"})
	id2, doc2 := rev["id"].(string), rev["document"].(string)
	if rev["version"] != float64(2) || !strings.Contains(id2, ".002.") {
		t.Fatalf("revision: %v", rev)
	}
	v = p.verify(map[string]string{"document": doc1})
	if v["valid"] != false || reasons(v) != "[superseded]" || v["current"] != false || v["current_id"] != id2 || v["status_code"] != "05" {
		t.Fatalf("old version: %v", v)
	}
	p.must(409, "POST", "/api/v1/certificates/"+id1+"/revisions", issuer, map[string]any{"data": map[string]any{"permit_no": "x", "address": "y"}})

	// Suspend, reinstate; a reason is required.
	p.must(400, "POST", "/api/v1/certificates/"+id2+"/suspend", issuer, map[string]string{})
	p.must(200, "POST", "/api/v1/certificates/"+id2+"/suspend", issuer, map[string]string{"reason": "停业整顿"})
	if v := p.verify(map[string]string{"document": doc2}); reasons(v) != "[suspended]" || v["status_code"] != "02" {
		t.Fatalf("suspended: %v", v)
	}
	p.must(409, "POST", "/api/v1/certificates/"+id2+"/suspend", issuer, map[string]string{"reason": "again"})
	p.must(200, "POST", "/api/v1/certificates/"+id2+"/reinstate", issuer, map[string]string{"reason": "整改完成"})

	// Rotate the key with the CLI while the hub runs; old documents keep verifying.
	if out, code := certhub(t, "keys", "rotate", "--data", data, "--authority", market); code != 0 {
		t.Fatalf("keys rotate: %d %s", code, out)
	}
	if out, _ := certhub(t, "keys", "list", "--data", data); strings.Count(out, market) != 2 || !strings.Contains(out, "retired") {
		t.Fatalf("keys list:\n%s", out)
	}
	third := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY13301020000003"))
	if third["kid"] == hdr["kid"] {
		t.Fatal("new issuance still uses the retired key")
	}
	for _, d := range []string{doc2, third["document"].(string)} {
		if v := p.verify(map[string]string{"document": d}); v["valid"] != true {
			t.Fatalf("after rotation: %v", v)
		}
	}
	// Mark the retired key compromised from now with the CLI: what it sealed
	// before stays valid; a future instant is refused, naming --from. The
	// kid goes after "--": a thumbprint may begin with "-".
	if out, code := certhub(t, "keys", "compromise", "--data", data, "--from", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--", hdr["kid"].(string)); code == 0 || !strings.Contains(out, "from") {
		t.Fatalf("keys compromise with a future --from: %d %s", code, out)
	}
	if out, code := certhub(t, "keys", "compromise", "--data", data, "--from", time.Now().UTC().Format(time.RFC3339Nano), "--reason", "演练", "--", hdr["kid"].(string)); code != 0 || !strings.Contains(out, "compromised from") {
		t.Fatalf("keys compromise: %d %s", code, out)
	}
	if v := p.verify(map[string]string{"document": doc2}); v["valid"] != true {
		t.Fatalf("sealed before the compromise: %v", v)
	}
	rotated := p.must(201, "POST", "/api/v1/authorities/"+market+"/keys/rotate", admin, map[string]string{"algorithm": "EdDSA"})
	if rotated["alg"] != "EdDSA" {
		t.Fatalf("API rotation: %v", rotated)
	}
	// To SM2 with the CLI: the running hub seals SM2SM3 documents at once.
	if out, code := certhub(t, "keys", "rotate", "--data", data, "--authority", market, "--algorithm", "SM2"); code != 0 || !strings.Contains(out, "(SM2)") {
		t.Fatalf("keys rotate --algorithm SM2: %d %s", code, out)
	}
	fourth := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY13301020000004"))
	hdrB, _ = base64.RawURLEncoding.DecodeString(strings.Split(fourth["document"].(string), ".")[0])
	var sm2hdr map[string]any
	if err := json.Unmarshal(hdrB, &sm2hdr); err != nil || sm2hdr["alg"] != "SM2SM3" || sm2hdr["kid"] != fourth["kid"] {
		t.Fatalf("SM2 document header = %s", hdrB)
	}
	if v := p.verify(map[string]string{"document": fourth["document"].(string)}); v["valid"] != true {
		t.Fatalf("SM2 document: %v", v)
	}
	// An ES256 key beside it; documents stay SM2 until the CLI chooses.
	docAlg := func() any { return p.must(200, "GET", "/api/v1/authorities/"+market, admin, nil)["document_algorithm"] }
	if out, code := certhub(t, "keys", "add", "--data", data, "--authority", market, "--algorithm", "ES256"); code != 0 || !strings.Contains(out, "seals documents: false") || docAlg() != "SM2" {
		t.Fatalf("keys add ES256: %d %s", code, out)
	}
	if out, code := certhub(t, "keys", "add", "--data", data, "--authority", market, "--algorithm", "ES256"); code == 0 || !strings.Contains(out, "already has an active ES256 key") {
		t.Fatalf("second active ES256 key: %d %s", code, out)
	}
	if out, code := certhub(t, "keys", "document-key", "--data", data, "--authority", market, "--algorithm", "ES256"); code != 0 || docAlg() != "ES256" {
		t.Fatalf("keys document-key ES256: %d %s", code, out)
	}
	out, _ := certhub(t, "keys", "list", "--data", data, "--authority", market)
	active, documents := 0, 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[3] == "active" {
			active++
			if f[len(f)-1] == "yes" {
				documents++
			}
		}
	}
	if active != 2 || documents != 1 {
		t.Fatalf("keys list: %d active, %d document keys:\n%s", active, documents, out)
	}

	// Revoke.
	p.must(200, "POST", "/api/v1/certificates/"+id2+"/revoke", issuer, map[string]string{"reason": "以欺骗手段取得许可"})
	if v := p.verify(map[string]string{"document": doc2}); reasons(v) != "[revoked]" || v["status_code"] != "03" {
		t.Fatalf("revoked: %v", v)
	}
	p.must(409, "POST", "/api/v1/certificates/"+id2+"/reinstate", issuer, map[string]string{"reason": "no"})

	// Restart on the same data directory: everything is still there.
	p.stop()
	q := start(t, env, "--data", data)
	if v := q.verify(map[string]string{"document": doc1}); reasons(v) != "[superseded]" {
		t.Fatalf("after restart, v1: %v", v)
	}
	for _, d := range []map[string]any{third, fourth} {
		if v := q.verify(map[string]string{"document": d["document"].(string)}); v["valid"] != true {
			t.Fatalf("after restart, %s: %v", d["id"], v)
		}
	}
	if got := q.must(200, "GET", "/api/v1/certificates?holder_id="+company, consumer, nil, purpose...); len(got["certificates"].([]any)) != 3 {
		t.Fatalf("after restart, lookup: %v", got)
	}
	q.must(200, "GET", "/readyz", "", nil)
	if m := q.do("GET", "/metrics", "", nil); m.status != 200 || !strings.Contains(string(m.body), "certhub_http_requests_total") {
		t.Fatalf("metrics: %d", m.status)
	}

	// Holder ids never appear in the logs.
	for _, l := range []string{p.log(), q.log()} {
		if strings.Contains(l, company) {
			t.Fatalf("holder id in the log:\n%s", l)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "master-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
}

func TestAdminTokenGenerated(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := start(t, []string{"CERTHUB_ADMIN_TOKEN=", "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}, "--data", data)
	path := filepath.Join(data, "admin-token")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
	tok, _ := os.ReadFile(path)
	p.must(200, "GET", "/api/v1/tokens", strings.TrimSpace(string(tok)), nil)
	p.must(401, "GET", "/api/v1/tokens", "wrong", nil)
}

func TestIDValidate(t *testing.T) {
	t.Parallel()
	out, code := certhub(t, "id", "validate", "11010519491231002X", "91350100M000100Y43")
	if code != 0 || strings.Count(out, "valid") != 2 || !strings.Contains(out, "citizen_id") || !strings.Contains(out, "uscc") {
		t.Fatalf("valid ids: %d\n%s", code, out)
	}
	out, code = certhub(t, "id", "validate", "11010519491231002X", "110105194912310021")
	if code == 0 || !strings.Contains(out, "check character") {
		t.Fatalf("invalid id: %d\n%s", code, out)
	}
	for _, cmd := range [][]string{{"--help"}, {"serve", "--help"}, {"id", "validate", "--help"}, {"keys", "rotate", "--help"}, {"demo", "--help"}, {"migrate", "--help"}, {"gen", "--help"}} {
		out, code := certhub(t, cmd...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Fatalf("certhub %v: %d\n%s", cmd, code, out)
		}
	}
	if out, _ := certhub(t, "serve", "--help"); !strings.Contains(out, "CERTHUB_S3_USE_SSL") || !strings.Contains(out, "CERTHUB_DATABASE_URL") {
		t.Fatalf("serve --help does not list the environment variables:\n%s", out)
	}
}

// TestReplicasSharePostgresAndS3 runs two hub processes on one PostgreSQL
// database and one bucket: a revocation through one is seen at once by the
// other (no status is cached).
func TestReplicasSharePostgresAndS3(t *testing.T) {
	t.Parallel()
	dbURL := testenv.PostgresURL(t)
	s3 := testenv.S3Server(t)
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + dbURL, "CERTHUB_S3_ENDPOINT=" + s3.Endpoint,
		"CERTHUB_S3_ACCESS_KEY=" + s3.AccessKey, "CERTHUB_S3_SECRET_KEY=" + s3.SecretKey, "CERTHUB_S3_BUCKET=" + testenv.RandomName("e2e-"),
		"CERTHUB_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}
	a := start(t, env, "--data", t.TempDir())
	b := start(t, env, "--data", t.TempDir())
	issuer, consumer := setup(t, a)

	issued := a.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1"))
	id, doc := issued["id"].(string), issued["document"].(string)
	if v := b.verify(map[string]string{"document": doc}); v["valid"] != true {
		t.Fatalf("replica b does not verify a's document: %v", v)
	}
	if got := b.do("GET", "/api/v1/certificates/"+id+"/document", consumer, nil, purpose...); got.status != 200 || string(got.body) != doc {
		t.Fatalf("replica b reads the document from S3: %d", got.status)
	}
	statusAcrossReplicas(t, a, b, issuer, doc, id)
	if v := b.verify(map[string]string{"document": doc}); reasons(v) != "[revoked]" {
		t.Fatalf("replica b after revocation on a: %v", v)
	}
	if v := b.verify(map[string]string{"id": id}); v["status"] != "revoked" {
		t.Fatalf("replica b by id: %v", v)
	}
	got := b.must(200, "GET", "/api/v1/certificates/"+id, consumer, nil, purpose...)
	if got["status"] != "revoked" {
		t.Fatalf("replica b lookup: %v", got)
	}
	// Key rotation on b; a seals with the new key at once.
	rot := b.must(201, "POST", "/api/v1/authorities/"+market+"/keys/rotate", admin, nil)
	next := a.must(201, "POST", "/api/v1/certificates", issuer, permit("JY2"))
	if next["kid"] != rot["kid"] {
		t.Fatalf("a seals with %v after b rotated to %v", next["kid"], rot["kid"])
	}
	for _, p := range []*proc{a, b} {
		p.must(200, "GET", "/readyz", "", nil)
		if strings.Contains(p.log(), company) {
			t.Fatal("holder id in the log")
		}
	}
}
