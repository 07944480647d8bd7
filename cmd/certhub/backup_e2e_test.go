package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/oidc/oidctest"
	"github.com/certhub/certhub/internal/testenv"
)

// TestBackupRestoreDrill is the documented backup and restore procedure
// (docs/operations.md, Backup and restore) run end to end on PostgreSQL
// and MinIO. A hub issues certificates (through the API, revised and
// revoked, and in bulk), a department reads under its agreement, a holder
// makes a share link; then the database is dumped with pg_dump -Fc and,
// after it, the bucket is copied. The hub goes on issuing after the backup.
// The dump is restored into a fresh database (createdb, pg_restore) and
// the copy into a fresh bucket, and a hub started on them with the same
// master key: every certificate it holds verifies, certhub doctor and
// certhub audit verify pass, the share link and the agreement work, a new
// certificate can be issued, and what was issued after the backup is not
// there (the recovery point). The bucket is copied with minio-go here
// because CI has no S3 command-line client; the procedure names mc mirror,
// rclone or aws s3 sync, which do the same. Each step's time is logged;
// CERTHUB_DRILL_CERTS sets how many certificates a connector issues in bulk
// (200 by default, a few batch objects) and CERTHUB_DRILL_SINGLE how many
// the API issues one at a time (0 by default; one object each), for
// measuring at a larger size.
func TestBackupRestoreDrill(t *testing.T) {
	t.Parallel()
	pgDump, pgRestore, createdb := pgTool(t, "pg_dump"), pgTool(t, "pg_restore"), pgTool(t, "createdb")
	base := os.Getenv("CERTHUB_TEST_DATABASE_URL")
	if base == "" {
		testenv.PostgresURL(t) // skips, or fails in CI, with the hint
	}
	s3 := testenv.S3Server(t)
	bulk, single := envInt(t, "CERTHUB_DRILL_CERTS", 200), envInt(t, "CERTHUB_DRILL_SINGLE", 0)
	idp := oidctest.New(t)
	master := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	hubEnv := func(db, bucket string) []string {
		return []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + db, "CERTHUB_S3_ENDPOINT=" + s3.Endpoint,
			"CERTHUB_S3_ACCESS_KEY=" + s3.AccessKey, "CERTHUB_S3_SECRET_KEY=" + s3.SecretKey, "CERTHUB_S3_BUCKET=" + bucket,
			"CERTHUB_MASTER_KEY=" + master, "CERTHUB_HOLDER_OIDC_ISSUER=" + idp.Issuer(), "CERTHUB_HOLDER_OIDC_AUDIENCE=" + idp.Audience,
			"CERTHUB_VERIFY_RATE=0"}
	}
	srcDB := newDatabase(t, base, "")
	srcBucket := testenv.RandomName("drill-")
	srcEnv := hubEnv(srcDB, srcBucket)
	p := start(t, srcEnv, "--data", t.TempDir())
	issuer, consumer := setup(t, p)

	// State: certificates issued, revised and revoked, a lookup under the
	// agreement, a share link, and bulk issuance.
	var ids []string
	for i := 1; i <= 6; i++ {
		ids = append(ids, p.must(201, "POST", "/api/v1/certificates", issuer, permit(fmt.Sprintf("JY%d", i)))["id"].(string))
	}
	rev := p.must(201, "POST", "/api/v1/certificates/"+ids[0]+"/revisions", issuer, map[string]any{
		"data": map[string]any{"permit_no": "JY1", "address": "福州市鼓楼区五四路88号"}, "reason": "经营场所变更"})["id"].(string)
	p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/revoke", issuer, map[string]string{"reason": "以欺骗手段取得许可"})
	p.must(200, "GET", "/api/v1/certificates/"+rev, consumer, nil, purpose...)
	holder := idp.Mint(idp.Claims(company, "福建某某餐饮有限公司"))
	share := p.must(201, "POST", "/api/v1/me/shares", holder, map[string]any{"certificate_id": ids[2], "fields": []string{"permit_no"},
		"purpose": "办理银行开户"})["url"].(string)
	shareToken := share[strings.LastIndex(share, "/")+1:]
	started := time.Now()
	pushRecords(t, p, bulk)
	t.Logf("drill: %d certificates issued through a connector (bulk path) in %s", bulk, time.Since(started).Round(time.Millisecond))
	if single > 0 {
		started = time.Now()
		issueMany(t, p, issuer, single)
		t.Logf("drill: %d certificates issued one at a time in %s", single, time.Since(started).Round(time.Millisecond))
	}

	// Backup: the database first, then the bucket (objects are written
	// before their rows commit, so a bucket copied after the dump holds
	// every object the dump names).
	work := t.TempDir()
	dump := filepath.Join(work, "certhub.dump")
	step := time.Now()
	run(t, pgDump, "-Fc", "-f", dump, "-d", srcDB)
	tDump := time.Since(step)
	step = time.Now()
	objects, size := copyBucket(t, s3, srcBucket, filepath.Join(work, "bucket"))
	tCopy := time.Since(step)
	info, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}

	// After the backup: beyond the recovery point.
	lost := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY-AFTER"))
	p.stop()

	// Restore into a fresh database and bucket.
	dstName := testenv.RandomName("drill_dst_")
	dstDB := newDatabase(t, base, dstName)
	step = time.Now()
	run(t, createdb, "--maintenance-db", base, dstName)
	run(t, pgRestore, "--no-owner", "--exit-on-error", "-d", dstDB, dump)
	tRestore := time.Since(step)
	dstBucket := testenv.RandomName("drill-")
	step = time.Now()
	if n, _ := uploadDir(t, s3, filepath.Join(work, "bucket"), dstBucket); n != objects {
		t.Fatalf("restored %d objects of %d", n, objects)
	}
	tUpload := time.Since(step)
	dstEnv := hubEnv(dstDB, dstBucket)
	step = time.Now()
	q := start(t, dstEnv, "--data", t.TempDir())
	tStart := time.Since(step)

	db, err := sql.Open("pgx", dstDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	step = time.Now()
	out, code := certhubEnv(t, dstEnv, "doctor", "--dry-run", "--data", t.TempDir())
	tDoctor := time.Since(step)
	if code != 0 || !strings.Contains(out, " 0 broken") {
		t.Fatalf("doctor on the restored hub: exit %d\n%s", code, out)
	}
	if out, code := certhubEnv(t, dstEnv, "audit", "verify", "--data", t.TempDir()); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("audit verify on the restored hub: exit %d\n%s", code, out)
	}
	step = time.Now()
	certs := verifyAll(t, q, db)
	tVerify := time.Since(step)
	if certs != 7+bulk+single {
		t.Fatalf("restored hub holds %d certificate versions, want %d", certs, 7+bulk+single)
	}
	// What happened after the backup is gone, and says so.
	if v := q.verify(map[string]string{"document": lost["document"].(string)}); v["valid"] == true || v["certificate"] != nil {
		t.Fatalf("a certificate issued after the backup verifies on the restored hub: %v", v)
	}
	var shown map[string]any
	if a := q.do("GET", "/s/"+shareToken, "", nil, "Accept", "application/json"); a.status != 200 {
		t.Fatalf("share link on the restored hub: %d %s", a.status, a.body)
	} else if shown = a.json(t); shown["valid"] != true || shown["purpose"] != "办理银行开户" {
		t.Fatalf("share on the restored hub: %v", shown)
	}
	if got := q.must(200, "GET", "/api/v1/certificates/"+rev, consumer, nil, purpose...); got["id"] != rev {
		t.Fatalf("lookup under the agreement on the restored hub: %v", got)
	}
	next := q.must(201, "POST", "/api/v1/certificates", issuer, permit("JY-RESTORED"))
	if v := q.verify(map[string]string{"document": next["document"].(string)}); v["valid"] != true {
		t.Fatalf("a certificate issued on the restored hub: %v", v)
	}
	// The restored hub's serial counters are the backup's, so the next
	// certificate takes the lost one's identifier. The lost document is
	// then still refused: the registry holds another document under its id
	// (docs/operations.md says to reissue what was lost).
	if next["id"] != lost["id"] {
		t.Logf("drill: the restored hub did not reuse the lost identifier (%s, %s)", lost["id"], next["id"])
	}
	if v := q.verify(map[string]string{"document": lost["document"].(string)}); v["valid"] != false || reasons(v) != "[unknown_document]" {
		t.Fatalf("the lost document once its identifier is reused: %v", v)
	}
	t.Logf("drill: %d certificate versions; dump %d bytes in %s; bucket %d objects, %d bytes copied in %s",
		certs, info.Size(), tDump.Round(time.Millisecond), objects, size, tCopy.Round(time.Millisecond))
	t.Logf("drill: restore: createdb + pg_restore %s, bucket upload %s, hub start %s; checks: doctor %s, verify all %s; RTO (restore steps + start) %s",
		tRestore.Round(time.Millisecond), tUpload.Round(time.Millisecond), tStart.Round(time.Millisecond),
		tDoctor.Round(time.Millisecond), tVerify.Round(time.Millisecond), (tRestore + tUpload + tStart).Round(time.Millisecond))
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

// issueMany issues n certificates through the API, four at a time.
func issueMany(t *testing.T, p *proc, issuer string, n int) {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if a := p.do("POST", "/api/v1/certificates", issuer, permit(fmt.Sprintf("SG%08d", i))); a.status != 201 {
					t.Errorf("issue %d: %d %s", i, a.status, a.body)
				}
			}
		}()
	}
	for i := 1; i <= n && !t.Failed(); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// pushRecords issues n certificates through a push connector: the bulk
// path, batch objects holding many documents each.
func pushRecords(t *testing.T, p *proc, n int) {
	t.Helper()
	def := fmt.Sprintf(`{"name": "push", "kind": "file", "source": {"dir": %q}, "type": %q, "authority": %q,
		"mapping": {"key": "no", "holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"field": "name"}},
		"data": {"permit_no": {"field": "no"}, "address": {"field": "addr"}},
		"valid_from": {"field": "from", "date": "auto"}, "valid_until": {"field": "until", "date": "auto"}}}`, t.TempDir(), licence, market)
	p.must(201, "POST", "/api/v1/connectors", admin, def)
	for first := 1; first <= n; first += 500 {
		var records []map[string]any
		for i := first; i < first+500 && i <= n; i++ {
			uscc := fmt.Sprintf("91330102MA3%06d", i)
			records = append(records, map[string]any{"no": fmt.Sprintf("BK%08d", i), "uscc": uscc + string(certificates.USCCCheck(uscc)),
				"name": fmt.Sprintf("第%d号餐馆", i), "addr": fmt.Sprintf("延安路%d号", i), "from": "2025-01-01", "until": "2029-12-31"})
		}
		if run := p.must(200, "POST", "/api/v1/connectors/push/records", admin, map[string]any{"records": records}); run["issued"] != float64(len(records)) {
			t.Fatalf("push from %d: %v", first, run)
		}
	}
}

// pgTool finds a PostgreSQL client program as .ci/services does.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		return m[len(m)-1]
	}
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Unavailable(t, name, "install PostgreSQL's client programs (Debian: postgresql-client)")
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// newDatabase returns the URL of a database of the test server, dropped
// when the test ends: a new one, or, when name is given, the one a step of
// the test will create.
func newDatabase(t *testing.T, base, name string) string {
	t.Helper()
	ctx := context.Background()
	create := name == ""
	if create {
		name = testenv.RandomName("drill_src_")
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if create {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func s3Client(t *testing.T, s3 testenv.S3) *minio.Client {
	t.Helper()
	c, err := minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// copyBucket copies every object of a bucket into a directory, as mc
// mirror bucket dir does.
func copyBucket(t *testing.T, s3 testenv.S3, bucket, dir string) (n int, size int64) {
	t.Helper()
	ctx := context.Background()
	c := s3Client(t, s3)
	keys := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				obj, err := c.GetObject(ctx, bucket, k, minio.GetObjectOptions{})
				if err == nil {
					var b []byte
					if b, err = io.ReadAll(obj); err == nil {
						path := filepath.Join(dir, filepath.FromSlash(k))
						if err = os.MkdirAll(filepath.Dir(path), 0o750); err == nil {
							err = os.WriteFile(path, b, 0o640)
						}
						mu.Lock()
						n, size = n+1, size+int64(len(b))
						mu.Unlock()
					}
					obj.Close()
				}
				if err != nil {
					t.Errorf("copy %s: %v", k, err)
				}
			}
		}()
	}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys <- o.Key
	}
	close(keys)
	wg.Wait()
	return n, size
}

// uploadDir puts every file of a directory into a new bucket, as mc mirror
// dir bucket does.
func uploadDir(t *testing.T, s3 testenv.S3, dir, bucket string) (n int, size int64) {
	t.Helper()
	ctx := context.Background()
	c := s3Client(t, s3)
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	paths := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				rel, _ := filepath.Rel(dir, p)
				b, err := os.ReadFile(p)
				if err == nil {
					_, err = c.PutObject(ctx, bucket, filepath.ToSlash(rel), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
				}
				if err != nil {
					t.Errorf("upload %s: %v", rel, err)
					continue
				}
				mu.Lock()
				n, size = n+1, size+int64(len(b))
				mu.Unlock()
			}
		}()
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths <- p
		}
		return err
	})
	close(paths)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return n, size
}

// verifyAll checks every certificate version the restored database holds
// through the restored hub: its document is served, verifies with its
// seal and is known to the registry, and the only reasons it is not valid
// are its state and its dates. It returns how many there are.
func verifyAll(t *testing.T, q *proc, db *sql.DB) int {
	t.Helper()
	rows, err := db.Query(`SELECT id, state FROM certificates ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	allowed := map[string]bool{"revoked": true, "suspended": true, "superseded": true, "expired": true, "not_yet_valid": true}
	n := 0
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		n++
		doc := q.do("GET", "/api/v1/certificates/"+id+"/document", admin, nil)
		if doc.status != 200 {
			t.Fatalf("document of %s on the restored hub: %d %s", id, doc.status, doc.body)
		}
		v := q.verify(map[string]string{"document": string(doc.body)})
		if v["certificate"] == nil || v["status"] != state {
			t.Fatalf("%s (%s) on the restored hub: %v", id, state, v)
		}
		for _, r := range v["reasons"].([]any) {
			if !allowed[r.(string)] {
				t.Fatalf("%s (%s) does not verify on the restored hub: %v", id, state, v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
