package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharingCLI manages consumers, purposes and agreements from the
// console and checks the hub enforces what the console set up.
func TestSharingCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}
	p := start(t, env, "--data", data)
	issuer, _ := setup(t, p)
	id := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1"))["id"].(string)
	p.stop()

	run := func(args ...string) string {
		t.Helper()
		out, code := certhubEnv(t, env, append(args, "--data", data, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("certhub %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return strings.TrimSpace(out)
	}
	run("purposes", "add", "SX-CLI-1", "--name", "个体工商户设立登记")
	if out := run("purposes", "list"); !strings.Contains(out, "个体工商户设立登记") {
		t.Fatalf("purposes list: %s", out)
	}
	consumer := run("consumers", "add", "--name", "窗口受理系统", "--uscc", company)
	if !strings.HasPrefix(consumer, "csm_") {
		t.Fatalf("consumers add: %q", consumer)
	}
	if out, code := certhubEnv(t, env, "agreements", "request", "--consumer", consumer, "--grant", licence+"=permit_no,nope",
		"--purpose", "SX-CLI-1", "--from", "2026-01-01", "--until", "2099-12-31", "--data", data); code == 0 || !strings.Contains(out, "grants[0].fields[1]") {
		t.Fatalf("bad request: %d %s", code, out)
	}
	agr := run("agreements", "request", "--consumer", consumer, "--grant", licence+"=permit_no", "--purpose", "SX-CLI-1",
		"--from", "2026-01-01", "--until", "2099-12-31", "--rate", "100")
	if out := run("agreements", "approve", agr); !strings.Contains(out, "active") {
		t.Fatalf("approve: %s", out)
	}
	if out := run("agreements", "list"); !strings.Contains(out, agr) || !strings.Contains(out, "active") {
		t.Fatalf("list: %s", out)
	}
	key := run("consumers", "key", consumer)
	key = key[strings.LastIndex(key, "\n")+1:]

	// A service item catalog from a CSV in the documented layout; a bad
	// one is refused with every problem listed and nothing saved.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("事项编码,事项名称,实施部门,材料名称,是否证照,证照类型\nX-1,某事项,某局,许可证,是,11330100MB0000001R999\nX-1,某事项,某局,申请书,也许,\n"), 0o644)
	if out, code := certhubEnv(t, env, "items", "import", bad, "--data", data); code == 0 ||
		!strings.Contains(out, "row 2.types[0]") || !strings.Contains(out, "row 3.certificate") {
		t.Fatalf("bad catalog: %d %s", code, out)
	}
	good := filepath.Join(dir, "items.csv")
	_ = os.WriteFile(good, []byte("item_code,item_name,department,material,certificate,types,fields,legal_basis\n"+
		"SX-CLI-1,个体工商户设立登记,某局,申请书,否,,,《条例》\n"+
		"SX-CLI-1,个体工商户设立登记,某局,食品经营许可证,是,"+licence+",permit_no,《条例》\n"+
		"SX-CLI-1,个体工商户设立登记,某局,其他有关材料,否,,,\n"), 0o644)
	if out := run("items", "import", good); !strings.Contains(out, "imported 1 service items, 3 materials (1 flagged)") {
		t.Fatalf("import: %s", out)
	}
	if out := run("items", "list"); !strings.Contains(out, "SX-CLI-1") {
		t.Fatalf("items list: %s", out)
	}

	p = start(t, env, "--data", data)
	hdr := []string{"X-Purpose", "SX-CLI-1", "X-Case-Id", "2026-CLI-1"}
	got := p.must(200, "GET", "/api/v1/certificates/"+id, key, nil, hdr...)
	if d := got["data"].(map[string]any); len(d) != 1 || d["permit_no"] != "JY1" || got["agreement"] != agr {
		t.Fatalf("read under the CLI's agreement: %v", got)
	}
	ans := p.must(200, "POST", "/api/v1/service-items/SX-CLI-1/resolve", key, map[string]any{
		"applicant": map[string]string{"id": company}, "case_id": "2026-CLI-2", "purpose": "SX-CLI-1"})
	if ans["avoided"] != float64(1) || ans["required"] != float64(3) {
		t.Fatalf("resolve: %v", ans)
	}
	p.stop()
	if out := run("items", "report", "--period", "year"); !strings.Contains(out, "SX-CLI-1,个体工商户设立登记,某局,1,3,1,33.3%") {
		t.Fatalf("items report: %s", out)
	}
	if out := run("agreements", "suspend", agr, "--reason", "立案调查"); !strings.Contains(out, "suspended") {
		t.Fatalf("suspend: %s", out)
	}
	if out := run("agreements", "resume", agr, "--reason", "调查结束"); !strings.Contains(out, "active") {
		t.Fatalf("resume: %s", out)
	}
	if out := run("agreements", "withdraw", agr, "--reason", "停止共享"); !strings.Contains(out, "withdrawn") {
		t.Fatalf("withdraw: %s", out)
	}
	run("consumers", "revoke", consumer)
	p = start(t, env, "--data", data)
	p.must(401, "GET", "/api/v1/certificates/"+id, key, nil, hdr...)
}
