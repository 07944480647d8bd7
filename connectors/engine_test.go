package connectors_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// setup is a hub with the demo catalog and an engine.
func setup(t *testing.T) (*hubtest.Hub, *connectors.Engine) {
	t.Helper()
	h := hubtest.New(t)
	if err := demo.Catalog(context.Background(), h.Certs); err != nil {
		t.Fatal(err)
	}
	return h, h.API.Connectors
}

// permit is the food business permit type of the demo catalog.
var permit = demo.Market + "002"

func definition(dir string) string {
	return fmt.Sprintf(`
name: market-permits
kind: file
source:
  dir: %s
  pattern: "*.jsonl"
type: %s
authority: %s
batch_size: 3
mapping:
  key: 许可证号
  holder:
    kind: {const: organisation}
    id: {field: 统一社会信用代码, trim: true, upper: true}
    name: {field: 经营者名称, trim: true}
  data:
    permit_no: {field: 许可证号}
    legal_representative: {field: 法定代表人}
    operator_type: {field: 主体业态, lookup: {"01": 餐饮服务经营者（小型餐馆）, "02": 食品销售经营者（便利店）}}
    business_items: {const: 热食类食品制售}
    address: {field: 经营场所, trim: true}
  valid_from: {field: 发证日期, date: auto}
  valid_until: {field: 有效期至, date: "20060102"}
  status:
    field: 状态
    values: {"1": valid, "2": suspended, "3": revoked, "4": cancelled}
`, dir, permit, demo.Market)
}

func uscc(n int) string {
	first := fmt.Sprintf("91330102MA2%06d", n)
	return first + string(certificates.USCCCheck(first))
}

func row(n int, status, address string) string {
	return fmt.Sprintf(`{"许可证号":"JY%08d","统一社会信用代码":" %s ","经营者名称":"杭州第%d餐饮有限公司","法定代表人":"王伟","主体业态":"01","经营场所":"%s","发证日期":"2024年3月1日","有效期至":"20290228","状态":"%s"}`,
		n, strings.ToLower(uscc(n)), n, address, status)
}

func drop(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func holderCerts(t *testing.T, h *hubtest.Hub, n int) []*certificates.Certificate {
	t.Helper()
	cs, _, err := h.Certs.Find(context.Background(), certificates.Scope{}, certificates.FindRequest{HolderID: uscc(n), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestApplyRejectsBadDefinitions(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	bad := `
name: Bad Name!
kind: ftp
type: 11330100MB0000001R999
authority: 91350100M000100Y43
batch_size: 0
schedule: {every: 1s}
mapping:
  holder: {kind: {const: robot}, id: {}, name: {field: n}}
  data:
    shoe_size: {field: s}
  valid_from: {field: d}
  status: {field: s, values: {"1": lost}}
`
	_, _, err := e.Apply(context.Background(), []byte(bad))
	var ee *errs.Error
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"name", "kind", "authority", "type", "schedule.every", "mapping.key", "mapping.holder.kind.const",
		"mapping.holder.id", "mapping.valid_from.date", "mapping.status.values.1"}
	got := map[string]bool{}
	for _, f := range ee.Fields {
		got[f.Field] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no problem reported at %s; got %v", w, ee.Fields)
		}
	}
	// Against a real type, a field the type lacks and a missing required one.
	dir := t.TempDir()
	def := strings.Replace(definition(dir), "    address: {field: 经营场所, trim: true}", "    shoe_size: {field: x}", 1)
	_, _, err = e.Apply(context.Background(), []byte(def))
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "shoe_size") {
		t.Fatalf("err = %v", err)
	}
	fields := fmt.Sprint(ee.Fields)
	if !strings.Contains(fields, "mapping.data.shoe_size") || !strings.Contains(fields, "mapping.data.address") {
		t.Fatalf("fields = %s", fields)
	}
	if _, _, err := e.Apply(context.Background(), []byte("kind: [unclosed")); !errs.Is(err, errs.Invalid) {
		t.Fatalf("malformed YAML: %v", err)
	}
	if _, _, err := e.Apply(context.Background(), []byte(`{"name": "x1", "colour": "red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown key: %v", err)
	}
	if names, _ := h.Store.ListConnectors(context.Background()); len(names) != 0 {
		t.Fatalf("a refused definition was saved: %v", names)
	}
}

// TestSyncSemantics: new → issued, changed → revised, source status →
// lifecycle, same → unchanged, bad rows → quarantine, and a fixed mapping
// brings the quarantined rows in.
func TestSyncSemantics(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, created, err := e.Apply(ctx, []byte(definition(dir))); err != nil || !created {
		t.Fatalf("apply: %v", err)
	}
	badCheck := strings.Replace(row(9, "1", "x路1号"), strings.ToLower(uscc(9)), "91330102ma2000009a", 1)
	unknownCode := strings.Replace(row(10, "1", "y路2号"), `"主体业态":"01"`, `"主体业态":"07"`, 1)
	drop(t, dir, "2024-03-01.jsonl", row(1, "1", "延安路1号"), row(2, "1", "解放路2号"), row(3, "2", "庆春路3号"),
		row(4, "3", "凤起路4号"), badCheck, `{"许可证号":"JY00000011","经营者名称":"缺少信用代码"}`, unknownCode, "")
	run, err := e.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seen != 7 || run.Issued != 4 || run.Lifecycle != 2 || run.Quarantined != 3 {
		q, _ := h.Store.ListQuarantine(ctx, "market-permits", false)
		for _, x := range q {
			t.Log(x.Reason)
		}
		t.Fatalf("first run: %+v", run.Counts)
	}
	if _, err := os.Stat(filepath.Join(dir, "done", "2024-03-01.jsonl")); err != nil {
		t.Fatal("the finished file was not moved to done/")
	}
	statusOf := func(n int) certificates.State {
		cs := holderCerts(t, h, n)
		if len(cs) != 1 {
			t.Fatalf("holder %d has %d certificates", n, len(cs))
		}
		return cs[0].State
	}
	if statusOf(1) != certificates.StateValid || statusOf(3) != certificates.StateSuspended || statusOf(4) != certificates.StateRevoked {
		t.Fatal("states after the first run are wrong")
	}
	c1 := holderCerts(t, h, 1)[0]
	if c1.Data["address"] != "延安路1号" || c1.ValidFrom.String() != "2024-03-01" || c1.ValidUntil.String() != "2029-02-28" ||
		c1.Holder.ID != uscc(1) || c1.Data["operator_type"] != "餐饮服务经营者（小型餐馆）" {
		t.Fatalf("mapped certificate: %+v", c1)
	}
	// Issued through the bulk path: the document sits in a batch object,
	// read back by its byte range, and verifies.
	_, doc, err := h.Certs.Document(ctx, c1.ID)
	if err != nil || c1.DocumentLength == 0 {
		t.Fatalf("document of a bulk-issued certificate: %v (length %d)", err, c1.DocumentLength)
	}
	if v, err := h.Certs.VerifyDocument(ctx, doc); err != nil || !v.Valid {
		t.Fatalf("bulk-issued document does not verify: %+v %v", v, err)
	}

	// The same records again, with changes: 1 unchanged, 2 revised, 3
	// reinstated, 4 still revoked, 5 new and cancelled at once.
	drop(t, dir, "2024-03-02.jsonl", row(1, "1", "延安路1号"), row(2, "1", "解放路200号"), row(3, "1", "庆春路3号"),
		row(4, "3", "凤起路4号"), row(5, "4", "中山路5号"))
	run, err = e.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seen != 5 || run.Unchanged != 2 || run.Revised != 1 || run.Lifecycle != 2 || run.Issued != 1 {
		t.Fatalf("second run: %+v", run.Counts)
	}
	cs := holderCerts(t, h, 2)
	if len(cs) != 1 || cs[0].Version != 2 || cs[0].Data["address"] != "解放路200号" {
		t.Fatalf("revision: %+v", cs)
	}
	if statusOf(3) != certificates.StateValid || statusOf(5) != certificates.StateRevoked {
		t.Fatal("lifecycle from the source not applied")
	}
	// Nothing new: a third run reads nothing and changes nothing.
	run, err = e.Run(ctx, "market-permits", nil)
	if err != nil || run.Seen != 0 {
		t.Fatalf("idle run: %+v %v", run, err)
	}

	// Quarantine: three records, each with its reason; a fixed mapping
	// (the missing code) brings one in.
	q, err := h.Store.ListQuarantine(ctx, "market-permits", false)
	if err != nil || len(q) != 3 {
		t.Fatalf("quarantine: %d %v", len(q), err)
	}
	reasons := ""
	for _, x := range q {
		reasons += x.Reason + "\n"
	}
	for _, want := range []string{"check character", "统一社会信用代码", `"07"`} {
		if !strings.Contains(reasons, want) {
			t.Errorf("quarantine reasons lack %q:\n%s", want, reasons)
		}
	}
	fixed := strings.Replace(definition(dir), `"02": 食品销售经营者（便利店）}`, `"02": 食品销售经营者（便利店）, "07": 单位食堂}`, 1)
	if _, _, err := e.Apply(ctx, []byte(fixed)); err != nil {
		t.Fatal(err)
	}
	ok, still, err := e.Retry(ctx, "market-permits", "")
	if err != nil || ok != 1 || still != 2 {
		t.Fatalf("retry: %d accepted, %d still, %v", ok, still, err)
	}
	if len(holderCerts(t, h, 10)) != 1 {
		t.Fatal("the retried record was not issued")
	}
	// The raw record is kept sealed, and opens for an admin.
	_, fields, err := e.QuarantinedRecord(ctx, q[0].ID)
	if err != nil || fields["许可证号"] == nil {
		t.Fatalf("quarantined record: %v %v", fields, err)
	}
	runs, _ := h.Store.ListRuns(ctx, "market-permits", 10)
	if len(runs) != 3 || runs[0].Status != "succeeded" {
		t.Fatalf("runs = %d", len(runs))
	}
}

// flaky fails FinishBatch once, as a crash between processing a batch and
// saving the cursor would.
type flaky struct {
	connectors.Store
	failAt int
	n      int
}

func (f *flaky) FinishBatch(ctx context.Context, name, runID, cursor string, c connectors.Counts, lag float64) error {
	f.n++
	if f.n == f.failAt {
		return errors.New("crash before the cursor moved")
	}
	return f.Store.FinishBatch(ctx, name, runID, cursor, c, lag)
}

// TestRestartAfterCrashIsExactlyOnce: the batch was applied but its cursor
// not saved; the next run reads it again and issues nothing twice.
func TestRestartAfterCrashIsExactlyOnce(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, _, err := e.Apply(ctx, []byte(definition(dir))); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for n := 1; n <= 8; n++ {
		lines = append(lines, row(100+n, "1", fmt.Sprintf("人民路%d号", n)))
	}
	drop(t, dir, "a.jsonl", lines...)
	crashing := *e
	crashing.Store = &flaky{Store: e.Store, failAt: 2}
	if _, err := crashing.Run(ctx, "market-permits", nil); err == nil {
		t.Fatal("the crash was not reported")
	}
	run, err := e.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Issued+run.Unchanged != run.Seen || run.Issued == 0 || run.Unchanged == 0 {
		t.Fatalf("restart: %+v", run.Counts)
	}
	for n := 1; n <= 8; n++ {
		if cs := holderCerts(t, h, 100+n); len(cs) != 1 || cs[0].Version != 1 {
			t.Fatalf("record %d: %d certificates", n, len(cs))
		}
	}
}

// TestGB18030CSV reads a CSV a Windows system exported in GB18030.
func TestGB18030CSV(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	def := strings.Replace(definition(dir), `pattern: "*.jsonl"`, "pattern: \"*.csv\"\n  encoding: gb18030", 1)
	if _, _, err := e.Apply(ctx, []byte(def)); err != nil {
		t.Fatal(err)
	}
	csv := "许可证号,统一社会信用代码,经营者名称,法定代表人,主体业态,经营场所,发证日期,有效期至,状态\n" +
		fmt.Sprintf("JY00000201,%s,杭州知味观餐饮有限公司,李娜,02,杭州市上城区仁和路83号,2024/03/01,20290228,1\n", uscc(201))
	enc, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(csv))
	if err != nil || bytes.Equal(enc, []byte(csv)) {
		t.Fatal("GB18030 encoding failed")
	}
	if err := os.WriteFile(filepath.Join(dir, "export.csv"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "market-permits", nil)
	if err != nil || run.Issued != 1 {
		t.Fatalf("run: %+v %v", run, err)
	}
	c := holderCerts(t, h, 201)[0]
	if c.Holder.Name != "杭州知味观餐饮有限公司" || c.Data["operator_type"] != "食品销售经营者（便利店）" || c.Data["address"] != "杭州市上城区仁和路83号" {
		t.Fatalf("certificate = %+v", c)
	}
	// A UTF-8 connector reading a GB18030 file fails clearly, cursor unmoved.
	if err := os.WriteFile(filepath.Join(dir, "wrong.csv"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	utf8Def := strings.Replace(def, "  encoding: gb18030", "", 1)
	if _, _, err := e.Apply(ctx, []byte(utf8Def)); err != nil {
		t.Fatal(err)
	}
	_, st, _ := e.Get(ctx, "market-permits")
	if _, err := e.Run(ctx, "market-permits", nil); err == nil || !strings.Contains(err.Error(), "encoding") {
		t.Fatalf("wrong encoding: %v", err)
	}
	_, st2, _ := e.Get(ctx, "market-permits")
	if st2.Cursor != st.Cursor || st2.Failures != 1 {
		t.Fatalf("cursor moved (%q → %q) or failure not counted (%d)", st.Cursor, st2.Cursor, st2.Failures)
	}
}

// TestXLSX reads an Excel workbook a department exported.
func TestXLSX(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	def := strings.Replace(definition(dir), `pattern: "*.jsonl"`, `pattern: "*.xlsx"`, 1)
	if _, _, err := e.Apply(ctx, []byte(def)); err != nil {
		t.Fatal(err)
	}
	wb := excelize.NewFile()
	rows := [][]any{
		{"许可证号", "统一社会信用代码", "经营者名称", "法定代表人", "主体业态", "经营场所", "发证日期", "有效期至", "状态"},
		{"JY00000301", uscc(301), "杭州楼外楼餐饮有限公司", "陈明", "01", "杭州市西湖区孤山路30号", "2024-03-01", "20290228", "1"},
		{},
		{"JY00000302", uscc(302), "杭州奎元馆餐饮有限公司", "周杰", "02", "杭州市上城区解放路154号", "2024年3月1日", "20290228", "2"},
		{"JY00000303", "not-a-uscc", "坏数据", "x", "01", "x", "2024-03-01", "20290228", "1"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := wb.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.SaveAs(filepath.Join(dir, "许可证导出.xlsx")); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seen != 3 || run.Issued != 2 || run.Lifecycle != 1 || run.Quarantined != 1 {
		t.Fatalf("xlsx run: %+v", run.Counts)
	}
	if cs := holderCerts(t, h, 302); len(cs) != 1 || cs[0].State != certificates.StateSuspended || cs[0].Holder.Name != "杭州奎元馆餐饮有限公司" {
		t.Fatalf("xlsx record: %+v", cs)
	}
}

// TestS3Drop reads files a department drops into a bucket prefix of a real
// S3 server, and moves each finished file under <prefix>done/.
func TestS3Drop(t *testing.T) {
	srv := testenv.S3Server(t)
	h, e := setup(t)
	ctx := context.Background()
	t.Setenv("DROP_ACCESS", srv.AccessKey)
	t.Setenv("DROP_SECRET", srv.SecretKey)
	bucket := testenv.RandomName("drop-")
	cl, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(name, body string) {
		if _, err := cl.PutObject(ctx, bucket, name, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("market/2024-03-01.jsonl", row(401, "1", "湖滨路1号")+"\n"+row(402, "1", "湖滨路2号")+"\n")
	put("market/2024-03-02.jsonl", row(403, "1", "湖滨路3号")+"\n")
	put("other/ignored.jsonl", row(404, "1", "x")+"\n")
	def := strings.Replace(definition("unused"), "  dir: unused\n", fmt.Sprintf(
		"  s3: {endpoint: %q, bucket: %q, prefix: market, access_key_env: DROP_ACCESS, secret_key_env: DROP_SECRET}\n", srv.Endpoint, bucket), 1)
	if _, _, err := e.Apply(ctx, []byte(def)); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "market-permits", nil)
	if err != nil || run.Issued != 3 {
		t.Fatalf("run: %+v %v", run, err)
	}
	var done []string
	for obj := range cl.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "market/", Recursive: true}) {
		done = append(done, obj.Key)
	}
	if fmt.Sprint(done) != "[market/done/2024-03-01.jsonl market/done/2024-03-02.jsonl]" {
		t.Fatalf("objects after the run: %v", done)
	}
	if len(holderCerts(t, h, 404)) != 0 {
		t.Fatal("a file outside the prefix was read")
	}
	if run, err := e.Run(ctx, "market-permits", nil); err != nil || run.Seen != 0 {
		t.Fatalf("second run: %+v %v", run, err)
	}
}

// TestReconcileReportsDeletedRecords: rows deleted at a PostgreSQL source
// are reported, and nothing is revoked.
func TestReconcileReportsDeletedRecords(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	h, e := setup(t)
	ctx := context.Background()
	src, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Exec(`CREATE TABLE licences (lic_no text PRIMARY KEY, uscc text, name text, updated_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := src.Exec(`INSERT INTO licences VALUES ($1, $2, $3, now())`, fmt.Sprint("JY", 500+i), uscc(500+i), fmt.Sprint("第", i, "号餐馆")); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("RECON_DSN", dsn)
	def := fmt.Sprintf(`name: recon
kind: sql
source: {driver: postgres, dsn_env: RECON_DSN, query: "SELECT lic_no, uscc, name, updated_at FROM licences", timestamp: updated_at, key: lic_no}
type: %s
authority: %s
batch_size: 2
mapping:
  key: lic_no
  holder: {kind: {const: organisation}, id: {field: uscc}, name: {field: name}}
  data: {permit_no: {field: lic_no}, legal_representative: {const: 王伟}, operator_type: {const: 单位食堂}, business_items: {const: 热食类食品制售}, address: {const: 延安路1号}}
  valid_from: {const: "2025-01-01", date: auto}
  valid_until: {const: "2029-12-31", date: auto}
`, permit, demo.Market)
	if _, _, err := e.Apply(ctx, []byte(def)); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "recon", nil)
	if err != nil || run.Issued != 5 {
		t.Fatalf("run: %+v %v", run, err)
	}
	if run.LagSeconds <= 0 || run.LagSeconds > 60 {
		t.Fatalf("lag = %v s, want the age of the newest change applied", run.LagSeconds)
	}
	if runs, _ := h.Store.ListRuns(ctx, "recon", 1); runs[0].LagSeconds != run.LagSeconds {
		t.Fatalf("stored lag %v, want %v", runs[0].LagSeconds, run.LagSeconds)
	}
	if _, err := src.Exec(`DELETE FROM licences WHERE lic_no IN ('JY502', 'JY504')`); err != nil {
		t.Fatal(err)
	}
	// An incremental run does not notice a deletion…
	if run, err := e.Run(ctx, "recon", nil); err != nil || run.Seen != 0 {
		t.Fatalf("incremental run: %+v %v", run, err)
	}
	// …reconciliation does, and revokes nothing.
	rep, err := e.Reconcile(ctx, "recon")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 3 || len(rep.Vanished) != 2 || rep.Vanished[0].SourceKey != "JY502" || rep.Vanished[1].SourceKey != "JY504" {
		t.Fatalf("reconciliation: %+v", rep)
	}
	if cs := holderCerts(t, h, 502); len(cs) != 1 || cs[0].State != certificates.StateValid {
		t.Fatal("reconciliation changed a certificate")
	}
}

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	end := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) // 18:00 in Shanghai
	tests := []struct {
		s    connectors.Schedule
		want time.Time
		ok   bool
	}{
		{connectors.Schedule{Every: "15m"}, end.Add(15 * time.Minute), true},
		{connectors.Schedule{Cron: "0 2 * * *"}, time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC), true}, // 02:00 Shanghai
		{connectors.Schedule{Cron: "@hourly"}, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), true},
		{connectors.Schedule{}, time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.s.Next(end, shanghai)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("%+v: Next = %v %v, want %v %v", tt.s, got, ok, tt.want, tt.ok)
		}
	}
	_, e := setup(t)
	bad := strings.Replace(definition(t.TempDir()), "batch_size: 3", "batch_size: 3\nschedule: {cron: \"61 * * * *\"}", 1)
	if _, _, err := e.Apply(context.Background(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "schedule.cron") {
		t.Fatalf("bad cron: %v", err)
	}
}

// TestApplyRejectsBadText: a definition's strings follow the hub's one text
// rule (a mapping constant ends up in every seal), each problem at its path.
func TestApplyRejectsBadText(t *testing.T) {
	t.Parallel()
	_, e := setup(t)
	def := `{"name": "bad-text", "kind": "file", "source": {"dir": "/tmp/x\u0000"}, "type": "11330100MB0000001R002",
		"authority": "11330100MB0000001R", "mapping": {"key": ["no"],
		"holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"const": "福建\u001b公司"}}}}`
	_, _, err := e.Apply(context.Background(), []byte(def))
	var ee *errs.Error
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v", err)
	}
	got := fmt.Sprint(ee.Fields)
	for _, want := range []string{"{mapping.holder.name.const holds the control character U+001B (ESC)}", "{source.dir holds the control character U+0000 (NUL)}"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in %s", want, got)
		}
	}
}

// TestBulkPathSM2: an authority whose documents are sealed with SM2 gets
// SM2SM3 documents through the bulk path (batch objects, byte ranges) and
// its revisions, and every one verifies.
func TestBulkPathSM2(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	if err := h.Certs.Keys.SetDocumentAlgorithm(ctx, demo.Market, signing.SM2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := e.Apply(ctx, []byte(definition(dir))); err != nil {
		t.Fatal(err)
	}
	drop(t, dir, "a.jsonl", row(1, "1", "延安路1号"), row(2, "1", "解放路2号"), row(3, "1", "庆春路3号"), row(4, "1", "凤起路4号"))
	if run, err := e.Run(ctx, "market-permits", nil); err != nil || run.Issued != 4 {
		t.Fatalf("run: %+v %v", run, err)
	}
	drop(t, dir, "b.jsonl", row(2, "1", "解放路200号"))
	if run, err := e.Run(ctx, "market-permits", nil); err != nil || run.Revised != 1 {
		t.Fatalf("revision run: %+v %v", run, err)
	}
	for n := 1; n <= 4; n++ {
		for _, c := range holderCerts(t, h, n) {
			_, doc, err := h.Certs.Document(ctx, c.ID)
			if err != nil {
				t.Fatalf("document of %s: %v", c.ID, err)
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(doc), ".")[0])
			if !strings.Contains(string(hdr), `"alg":"SM2SM3"`) {
				t.Fatalf("document of %s is not SM2SM3: %s", c.ID, hdr)
			}
			if v, err := h.Certs.VerifyDocument(ctx, doc); err != nil || !v.Valid {
				t.Fatalf("SM2 document of %s (version %d) does not verify: %+v %v", c.ID, c.Version, v, err)
			}
		}
	}
}
