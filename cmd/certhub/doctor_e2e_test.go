package main_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/testenv"
)

// doctorJourney pushes records through a connector (the bulk path: one
// batch object), pushes one of them again changed (a revision), and reads
// the revision's document back (issue 10 item 1). It then puts the row
// back the way the bug left it (the batch member's offset and length on
// the revision's standalone object) and checks `certhub doctor`: the dry
// run reports and changes nothing, the repair makes the document readable
// through the running hub and is in the audit ledger, a second run finds
// nothing, and a row whose document is nowhere is reported, not changed.
func doctorJourney(t *testing.T, env []string, store []string, db *sql.DB) {
	p := start(t, env, store...)
	setup(t, p)
	def := fmt.Sprintf(`{"name": "push", "kind": "file", "source": {"dir": %q}, "type": %q, "authority": %q,
		"mapping": {"key": "no", "holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"field": "name"}},
		"data": {"permit_no": {"field": "no"}, "address": {"field": "addr"}},
		"valid_from": {"field": "from", "date": "auto"}, "valid_until": {"field": "until", "date": "auto"}}}`, t.TempDir(), licence, market)
	p.must(201, "POST", "/api/v1/connectors", admin, def)
	var records []map[string]any
	var holders []string
	for i := 1; i <= 3; i++ {
		first := fmt.Sprintf("91330102MA3%06d", i)
		holders = append(holders, first+string(certificates.USCCCheck(first)))
		records = append(records, map[string]any{"no": fmt.Sprintf("JY%08d", i), "uscc": holders[i-1], "name": fmt.Sprintf("第%d号餐馆", i),
			"addr": fmt.Sprintf("延安路%d号", i), "from": "2025-01-01", "until": "2029-12-31"})
	}
	p.must(200, "POST", "/api/v1/connectors/push/records", admin, map[string]any{"records": records})
	records[2]["addr"] = "延安路300号"
	if run := p.must(200, "POST", "/api/v1/connectors/push/records", admin, map[string]any{"records": records[2:]}); run["revised"] != float64(1) {
		t.Fatalf("second push: %v", run)
	}
	list := p.must(200, "GET", "/api/v1/certificates?holder_id="+holders[2], admin, nil)["certificates"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["version"] != float64(2) {
		t.Fatalf("after the update: %v", list)
	}
	v2 := list[0].(map[string]any)["id"].(string)
	var v1Key string
	var v1Off, v1Len int64
	if err := db.QueryRow(`SELECT document_key, document_offset, document_length FROM certificates WHERE superseded_by = $1`, v2).
		Scan(&v1Key, &v1Off, &v1Len); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v1Key, "batches/") || v1Off == 0 || v1Len == 0 {
		t.Fatalf("v1 was not issued into a batch object: %s %d+%d", v1Key, v1Off, v1Len)
	}
	document := func(id string) answer {
		t.Helper()
		return p.do("GET", "/api/v1/certificates/"+id+"/document", admin, nil)
	}
	var sha string
	if err := db.QueryRow(`SELECT document_sha256 FROM certificates WHERE id = $1`, v2).Scan(&sha); err != nil {
		t.Fatal(err)
	}
	matches := func(a answer) bool {
		sum := sha256.Sum256(a.body)
		return a.status == 200 && hex.EncodeToString(sum[:]) == sha
	}
	if a := document(v2); !matches(a) {
		t.Fatalf("revision of a bulk-issued certificate: %d %s", a.status, a.body)
	}

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE certificates SET document_offset = $1, document_length = $2 WHERE id = $3`, v1Off, v1Len, v2)
	if a := document(v2); a.status < 500 {
		t.Fatalf("the recreated bad row answers %d; the test proves nothing", a.status)
	}
	doctor := func(args ...string) (string, int) {
		t.Helper()
		return certhubEnv(t, env, append(append([]string{"doctor"}, args...), store...)...)
	}
	out, code := doctor("--dry-run")
	if code == 0 || !strings.Contains(out, "repairable    "+v2) || !strings.Contains(out, "1 broken, 0 repaired, 0 unrepairable") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if a := document(v2); a.status < 500 {
		t.Fatalf("a dry run changed the row: %d", a.status)
	}
	out, code = doctor()
	if code != 0 || !strings.Contains(out, "repaired      "+v2) || !strings.Contains(out, "(whole object)") ||
		!strings.Contains(out, "checked 4 certificate versions: 1 broken, 1 repaired, 0 unrepairable") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if a := document(v2); !matches(a) {
		t.Fatalf("after the repair: %d %s", a.status, a.body)
	}
	if out, code := doctor(); code != 0 || !strings.Contains(out, "0 broken, 0 repaired") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	var logged int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE body LIKE '%"action":"document_relocate"%' AND body LIKE $1`, "%"+v2+"%").
		Scan(&logged); err != nil || logged != 1 {
		t.Fatalf("repair entries in the audit ledger: %d, %v", logged, err)
	}

	// A row whose recorded hash is nowhere in its object: reported, left alone.
	other := p.must(200, "GET", "/api/v1/certificates?holder_id="+holders[0], admin, nil)["certificates"].([]any)[0].(map[string]any)["id"].(string)
	exec(`UPDATE certificates SET document_sha256 = $1 WHERE id = $2`, strings.Repeat("0", 64), other)
	out, code = doctor()
	if code == 0 || !strings.Contains(out, "UNREPAIRABLE  "+other) || !strings.Contains(out, "1 broken, 0 repaired, 1 unrepairable") {
		t.Fatalf("unrepairable: exit %d\n%s", code, out)
	}
	var off, length int64
	if err := db.QueryRow(`SELECT document_offset, document_length FROM certificates WHERE id = $1`, other).Scan(&off, &length); err != nil ||
		length == 0 {
		t.Fatalf("doctor changed an unrepairable row: %d+%d %v", off, length, err)
	}
	if out, code := doctor("--dry-run"); code == 0 || !strings.Contains(out, "1 unrepairable") {
		t.Fatalf("dry run after: exit %d\n%s", code, out)
	}
}

func TestDoctorSQLite(t *testing.T) {
	t.Parallel()
	env, args, db := embeddedStore(t)
	doctorJourney(t, env, args, db)
}

func TestDoctorPostgresS3(t *testing.T) {
	t.Parallel()
	env, args, db := postgresStore(t)
	s3 := testenv.S3Server(t)
	env = append(env, "CERTHUB_S3_ENDPOINT="+s3.Endpoint, "CERTHUB_S3_ACCESS_KEY="+s3.AccessKey, "CERTHUB_S3_SECRET_KEY="+s3.SecretKey,
		"CERTHUB_S3_BUCKET="+testenv.RandomName("doctor-"), "CERTHUB_MASTER_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	doctorJourney(t, env, args, db)
}
