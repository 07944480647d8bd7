package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// itemYAML is a service item whose materials use the test types.
var itemYAML = fmt.Sprintf(`
- code: TEST-SP-001
  name: 食品经营许可 新办
  department: 杭州市市场监督管理局
  materials:
    - name: 食品经营许可申请书
      legal_basis: 《食品经营许可和备案管理办法》
    - name: 营业执照
      certificate: true
      types: [%[1]s]
      fields: [legal_representative, capital, holder_name]
      legal_basis: 《食品经营许可和备案管理办法》
    - name: 原食品经营许可证
      certificate: true
      types: [%[2]s]
      fields: [permit_no]
      legal_basis: 《食品经营许可和备案管理办法》
    - name: 营业执照原件（核验）
      certificate: true
      types: [%[1]s]
      original_required: true
      legal_basis: 某地方规定第三条
    - name: 其他有关材料
`, licence, foodType)

func org(n int) string {
	first := fmt.Sprintf("91330102MA2%06d", n)
	return first + string(certificates.USCCCheck(first))
}

// TestResolveServiceItem: import a catalog, issue certificates, resolve
// for applicants with all, some, none, expired and revoked certificates and
// for a consumer whose agreement covers only part; check each material's
// outcome, the fields returned, the ledger and the avoided counts with
// their de-duplication per case id.
func TestResolveServiceItem(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.seedFoodType()
	var imp struct {
		Imported         int
		FlaggedMaterials int `json:"flagged_materials"`
		Items            []exchange.ServiceItem
	}
	if st := h.call("POST", "/api/v1/service-items", h.Admin, itemYAML, &imp, "Content-Type", "application/yaml"); st != 200 || len(imp.Items) != 1 {
		t.Fatalf("import: %d %+v", st, imp)
	}
	last := imp.Items[0].Materials[4]
	if !strings.Contains(strings.Join(last.Flags, ","), "catch_all") || !strings.Contains(strings.Join(last.Flags, ","), "no_legal_basis") {
		t.Fatalf("catch-all material flags: %v", last.Flags)
	}

	full, fullKey := h.newConsumer("受理平台")
	agr := h.agreement(full, exchange.Grant{Type: licence, Fields: []string{"legal_representative", "holder_name"}}, "TEST-SP-001")
	h.agreement(full, exchange.Grant{Type: foodType, Fields: []string{"permit_no"}}, "TEST-SP-001")
	_, noneKey := h.newConsumer("没有协议的系统")
	part, partKey := h.newConsumer("只有营业执照协议的系统")
	h.agreement(part, exchange.Grant{Type: licence, Fields: []string{"legal_representative"}}, "TEST-SP-001")

	issue := func(typ, holder string, data map[string]any, until string) string {
		b := map[string]any{"type": typ, "authority": marketCode, "holder": map[string]string{"kind": "organisation", "id": holder, "name": "杭州某某餐饮有限公司"},
			"data": data, "valid_from": "2020-01-01", "valid_until": until}
		if typ == foodType {
			b["authority"] = otherCode
		}
		var c struct{ ID string }
		if st := h.call("POST", "/api/v1/certificates", h.Admin, b, &c); st != 201 {
			t.Fatalf("issue %s for %s: %d", typ, holder, st)
		}
		return c.ID
	}
	lic := map[string]any{"legal_representative": "王五", "established_on": "2020-01-01", "capital": 50}
	all, some, none, expired, revoked := org(1), org(2), org(3), org(4), org(5)
	allLic := issue(licence, all, lic, "2029-06-30")
	issue(foodType, all, map[string]any{"permit_no": "JY001"}, "2029-06-30")
	issue(licence, some, lic, "2029-06-30")
	issue(licence, expired, lic, h.Certs.Today().AddDays(-1).String())
	rev := issue(licence, revoked, lic, "2029-06-30")
	if st := h.call("POST", "/api/v1/certificates/"+rev+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}

	type answer struct {
		Materials []struct {
			Name, Outcome, Reason, Agreement string
			Avoided                          bool
			Certificate                      *struct {
				ID     string
				Status string
				Fields map[string]any
			}
		}
		Required, Avoided int
		ToBring           []string `json:"to_bring"`
	}
	resolve := func(key, applicant, caseID string) answer {
		t.Helper()
		var a answer
		body := map[string]any{"applicant": map[string]string{"kind": "organisation", "id": applicant}, "case_id": caseID, "purpose": "TEST-SP-001"}
		if st := h.call("POST", "/api/v1/service-items/TEST-SP-001/resolve", key, body, &a); st != 200 {
			t.Fatalf("resolve %s: %d", applicant, st)
		}
		return a
	}
	outcomes := func(a answer) string {
		var o []string
		for _, m := range a.Materials {
			o = append(o, m.Outcome)
		}
		return strings.Join(o, " ")
	}
	cases := []struct {
		key, applicant, want string
		avoided              int
	}{
		{fullKey, all, "provide satisfied satisfied satisfied provide", 2},
		{fullKey, some, "provide satisfied not_found satisfied provide", 1},
		{fullKey, none, "provide not_found not_found not_found provide", 0},
		{fullKey, expired, "provide expired not_found expired provide", 0},
		{fullKey, revoked, "provide revoked not_found revoked provide", 0},
		{partKey, all, "provide satisfied not_permitted satisfied provide", 1},
		{noneKey, all, "provide not_permitted not_permitted not_permitted provide", 0},
	}
	for i, c := range cases {
		a := resolve(c.key, c.applicant, fmt.Sprintf("CASE-%d", i))
		if got := outcomes(a); got != c.want || a.Avoided != c.avoided || a.Required != 5 {
			t.Errorf("case %d: %s (avoided %d), want %s (avoided %d)", i, got, a.Avoided, c.want, c.avoided)
		}
	}
	// The fields: the material's needs within the agreement's grant.
	a := resolve(fullKey, all, "CASE-0")
	lm := a.Materials[1]
	if lm.Certificate == nil || lm.Certificate.ID != allLic || lm.Agreement != agr || len(lm.Certificate.Fields) != 2 ||
		lm.Certificate.Fields["legal_representative"] != "王五" || lm.Certificate.Fields["holder_name"] != "杭州某某餐饮有限公司" {
		t.Fatalf("licence material: %+v", lm)
	}
	if a.Materials[3].Avoided || !strings.Contains(a.Materials[3].Reason, "original") {
		t.Fatalf("an original still required was counted as avoided: %+v", a.Materials[3])
	}
	if strings.Join(a.ToBring, "|") != "食品经营许可申请书|营业执照原件（核验）|其他有关材料" {
		t.Fatalf("to bring: %v", a.ToBring)
	}
	// The ledger: one entry per certificate used, with purpose and case.
	n := 0
	for _, e := range h.ledger() {
		if e.Action == "resolve" && e.CaseID == "CASE-0" {
			n++
			if e.Purpose != "TEST-SP-001" || e.Actor != "consumer:"+full || len(e.Certificates) != 1 {
				t.Fatalf("resolve entry: %+v", e)
			}
		}
	}
	if n != 6 { // 3 certificates used, resolved twice
		t.Fatalf("%d resolve entries for CASE-0, want 6", n)
	}
	// The report: CASE-0 counted once although resolved twice.
	var rep struct{ Rows []exchange.MaterialsRow }
	if st := h.call("GET", "/api/v1/reports/materials?period=year", h.Admin, nil, &rep); st != 200 || len(rep.Rows) != 1 {
		t.Fatalf("report: %d %+v", st, rep)
	}
	if r := rep.Rows[0]; r.Cases != 7 || r.Required != 35 || r.Avoided != 4 || r.Department != "杭州市市场监督管理局" || r.ItemName != "食品经营许可 新办" {
		t.Fatalf("report row: %+v", r)
	}

	// Bad input.
	bad := []struct {
		path  string
		body  map[string]any
		code  int
		field string
	}{
		{"/api/v1/service-items/NOPE/resolve", map[string]any{"applicant": map[string]string{"id": all}, "case_id": "c", "purpose": "TEST-SP-001"}, 404, ""},
		{"/api/v1/service-items/TEST-SP-001/resolve", map[string]any{"applicant": map[string]string{"id": all[:17] + "0"}, "case_id": "c", "purpose": "TEST-SP-001"}, 400, "applicant.id"},
		{"/api/v1/service-items/TEST-SP-001/resolve", map[string]any{"applicant": map[string]string{"id": all}, "purpose": "TEST-SP-001"}, 400, "case_id"},
		{"/api/v1/service-items/TEST-SP-001/resolve", map[string]any{"applicant": map[string]string{"id": all}, "case_id": "c", "purpose": "SX-none"}, 400, "purpose"},
	}
	for _, b := range bad {
		var e struct{ Error struct{ Field string } }
		if st := h.call("POST", b.path, fullKey, b.body, &e); st != b.code || e.Error.Field != b.field {
			t.Errorf("%s %v: %d %q, want %d %q", b.path, b.body, st, e.Error.Field, b.code, b.field)
		}
	}
}

// TestImportItemsValidation: a malformed catalog is refused with every
// problem listed and nothing saved; a CSV catalog in the documented
// layout imports.
func TestImportItemsValidation(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	bad := `
- code: A-1
  name: 一
  department: 某局
  materials:
    - name: 证照
      certificate: true
      types: [11330100MB0000001R999]
- code: A-1
  name: 重复
  department: 某局
  materials: [{name: 申请书}]
- code: A-2
  name: 空
  department: 某局
  materials: []
- code: A-3
  name: 字段
  department: 某局
  materials:
    - name: 营业执照
      certificate: true
      types: [` + licence + `]
      fields: [no_such_field]
      statuses: [lost]
`
	var e struct {
		Error struct {
			Fields []struct{ Field, Reason string }
		}
	}
	if st := h.call("POST", "/api/v1/service-items", h.Admin, bad, &e, "Content-Type", "application/yaml"); st != 400 {
		t.Fatalf("bad catalog: %d", st)
	}
	var fields []string
	for _, f := range e.Error.Fields {
		fields = append(fields, f.Field)
	}
	want := []string{"items[0].materials[0].types[0]", "items[1].code", "items[2].materials", "items[3].materials[0].statuses[0]", "items[3].materials[0].fields[0]"}
	for _, w := range want {
		if !strings.Contains(strings.Join(fields, " "), w) {
			t.Errorf("problem %s not listed; got %v", w, fields)
		}
	}
	var list struct{ Items []exchange.ServiceItem }
	if h.call("GET", "/api/v1/service-items", h.Admin, nil, &list); len(list.Items) != 0 {
		t.Fatalf("a refused catalog was saved: %+v", list.Items)
	}
	csv := "事项编码,事项名称,实施部门,材料名称,是否证照,证照类型,可接受状态,所需字段,需原件,设定依据\n" +
		"B-1,企业变更登记,某局,申请书,否,,,,否,《条例》\n" +
		"B-1,企业变更登记,某局,营业执照,是," + licence + ",valid|suspended,legal_representative、capital,否,《条例》\n"
	if st := h.call("POST", "/api/v1/service-items", h.Admin, csv, nil, "Content-Type", "text/csv"); st != 200 {
		t.Fatalf("CSV import: %d", st)
	}
	var it exchange.ServiceItem
	if st := h.call("GET", "/api/v1/service-items/B-1", h.Admin, nil, &it); st != 200 || len(it.Materials) != 2 ||
		strings.Join(it.Materials[1].Fields, ",") != "legal_representative,capital" || strings.Join(it.Materials[1].Statuses, ",") != "valid,suspended" {
		t.Fatalf("CSV item: %d %+v", st, it)
	}
	if st := h.call("GET", "/api/v1/service-items/B-404", h.Admin, nil, nil); st != 404 {
		t.Fatalf("unknown item: %d", st)
	}

	// The same layout as an .xlsx workbook, with English headers.
	f := excelize.NewFile()
	rows := [][]any{
		{"item_code", "item_name", "department", "material", "certificate", "types", "original_required", "legal_basis"},
		{"C-1", "不动产抵押登记", "某局", "申请书", "no", "", "no", "《细则》"},
		{"C-1", "不动产抵押登记", "某局", "营业执照", "yes", licence, "yes", "《细则》第三十八条"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if st := h.call("POST", "/api/v1/service-items", h.Admin, buf.String(), nil,
		"Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"); st != 200 {
		t.Fatalf("xlsx import: %d", st)
	}
	if st := h.call("GET", "/api/v1/service-items/C-1", h.Admin, nil, &it); st != 200 || len(it.Materials) != 2 || !it.Materials[1].OriginalRequired ||
		it.Materials[1].Types[0] != licence {
		t.Fatalf("xlsx item: %d %+v", st, it)
	}
}

// TestMaterialsReportPerConsumer: two offices whose case numbering
// collides are two cases, not one; a case resolved without an agreement
// counts with nothing avoided, and the materials an agreement would have
// spared are reported in their own column (JSON and CSV), so the share
// avoided stays honest and shows where agreements are missing.
func TestMaterialsReportPerConsumer(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.seedFoodType()
	if st := h.call("POST", "/api/v1/service-items", h.Admin, itemYAML, nil, "Content-Type", "application/yaml"); st != 200 {
		t.Fatalf("import: %d", st)
	}
	var keys []string
	for _, name := range []string{"西湖区受理平台", "上城区受理平台"} {
		id, key := h.newConsumer(name)
		h.agreement(id, exchange.Grant{Type: licence, Fields: []string{"legal_representative"}}, "TEST-SP-001")
		h.agreement(id, exchange.Grant{Type: foodType, Fields: []string{"permit_no"}}, "TEST-SP-001")
		keys = append(keys, key)
	}
	_, bare := h.newConsumer("尚无协议的受理平台")
	keys = append(keys, bare)
	applicant := org(1)
	for typ, data := range map[string]map[string]any{licence: {"legal_representative": "王五", "established_on": "2020-01-01", "capital": 50}, foodType: {"permit_no": "JY001"}} {
		b := map[string]any{"type": typ, "authority": marketCode, "holder": map[string]string{"kind": "organisation", "id": applicant, "name": "杭州某某餐饮有限公司"},
			"data": data, "valid_from": "2020-01-01", "valid_until": "2029-06-30"}
		if typ == foodType {
			b["authority"] = otherCode
		}
		if st := h.call("POST", "/api/v1/certificates", h.Admin, b, nil); st != 201 {
			t.Fatalf("issue %s: %d", typ, st)
		}
	}
	// The same case number at three offices, each resolved twice.
	var answers []struct {
		Avoided   int
		Avoidable int `json:"avoidable_with_agreement"`
	}
	for _, key := range keys {
		for range 2 {
			var a struct {
				Avoided   int
				Avoidable int `json:"avoidable_with_agreement"`
			}
			body := map[string]any{"applicant": map[string]string{"id": applicant}, "case_id": "2026-0001", "purpose": "TEST-SP-001"}
			if st := h.call("POST", "/api/v1/service-items/TEST-SP-001/resolve", key, body, &a); st != 200 {
				t.Fatalf("resolve: %d", st)
			}
			answers = append(answers, a)
		}
	}
	// With agreements: the licence and the food permit are avoided (the
	// original still required is not). Without: nothing avoided, and the
	// same two avoidable with an agreement.
	if a, b := answers[0], answers[len(answers)-1]; a.Avoided != 2 || a.Avoidable != 0 || b.Avoided != 0 || b.Avoidable != 2 {
		t.Fatalf("answers: with agreements %+v, without %+v", a, b)
	}
	var rep struct{ Rows []exchange.MaterialsRow }
	if st := h.call("GET", "/api/v1/reports/materials?period=year", h.Admin, nil, &rep); st != 200 || len(rep.Rows) != 1 {
		t.Fatalf("report: %d %+v", st, rep)
	}
	if r := rep.Rows[0]; r.Cases != 3 || r.Required != 15 || r.Avoided != 4 || r.AvoidableWithAgreement != 2 {
		t.Fatalf("report row: %+v; want 3 cases, 15 required, 4 avoided, 2 avoidable with an agreement", r)
	}
	req, _ := http.NewRequest("GET", h.Srv.URL+"/api/v1/reports/materials?period=year&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+h.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(csv), "\ufeff")), "\n")
	if len(lines) != 2 || lines[0] != "period,item,item_name,department,cases,required,avoided,avoided_share,avoidable_with_agreement" ||
		!strings.HasSuffix(lines[1], ",3,15,4,26.7%,2") {
		t.Fatalf("csv:\n%s", csv)
	}
}

// TestImportItemsInChinese: a table written the way offices write it —
// type names instead of codes, field labels instead of names, status
// labels (有效、暂扣) — imports holding codes and names; what cannot be
// resolved, or breaks the text rule, is refused by the file's row and
// column, and nothing is saved.
func TestImportItemsInChinese(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.seedFoodType()
	header := "事项编码,事项名称,实施部门,材料名称,是否证照,证照类型,可接受状态,所需字段,需原件,设定依据\n"
	good := header +
		"D-1,食品经营许可 新办,某局,申请书,否,,,,否,《办法》\n" +
		"D-1,,,营业执照,是,营业执照,有效、暂扣,法定代表人、注册资本（万元）、持证主体名称,否,《办法》\n" +
		"D-1,,,原食品经营许可证,是,食品经营许可证|" + licence + ",失效|01,许可证编号,否,《办法》\n"
	if st := h.call("POST", "/api/v1/service-items", h.Admin, good, nil, "Content-Type", "text/csv"); st != 200 {
		t.Fatalf("import: %d", st)
	}
	var it exchange.ServiceItem
	if st := h.call("GET", "/api/v1/service-items/D-1", h.Admin, nil, &it); st != 200 || len(it.Materials) != 3 {
		t.Fatalf("item: %d %+v", st, it)
	}
	for i, want := range []struct{ types, statuses, fields string }{
		{licence, "valid,suspended", "legal_representative,capital,holder_name"},
		{foodType + "," + licence, "expired,valid", "permit_no"},
	} {
		m := it.Materials[i+1]
		if got := [3]string{strings.Join(m.Types, ","), strings.Join(m.Statuses, ","), strings.Join(m.Fields, ",")}; got != [3]string{want.types, want.statuses, want.fields} {
			t.Errorf("material %s: %v, want %+v", m.Name, got, want)
		}
	}

	// A second type also named 营业执照 makes the name ambiguous.
	dup := map[string]any{"code": otherCode + "003", "name": "营业执照", "defining_authority": otherCode, "holder_kind": "organisation",
		"fields": []map[string]any{{"name": "no", "label": "编号", "type": "string", "required": true, "shareable": true}}}
	if st := h.call("POST", "/api/v1/types", h.Admin, dup, nil); st != 201 {
		t.Fatalf("create type: %d", st)
	}
	bad := header +
		"E-1,企业开办,某局,申请书,否,,,,否,《条例》\n" + // row 2
		"E-1,企业开办,某局,营业执照,是,营业执照,,,否,《条例》\n" + // row 3: ambiguous name
		"E-1,企业开办,某局,许可证,是,食品经营许可证,注销,经营范围,否,《条例》\n" + // row 4: unknown status, unknown field
		"E-1,企业开办,某局,税务登记证,是,税务登记证,,,否,《条例》\n" + // row 5: unknown type
		"E-1,企业开办,某局,章程\x00,否,,,,否,《条例》\n" + // row 6: NUL
		"E-1,企业开办,某局,股东会决议,否,,,,否,\xc9\xe8\xb6\xa8\n" + // row 7: GBK bytes, not UTF-8
		"E-1,企业开办,某局,住所证明\ufffd,否,,,,否,《条例》\n" // row 8: U+FFFD
	var e struct {
		Error struct {
			Fields []struct{ Field, Reason string }
		}
	}
	if st := h.call("POST", "/api/v1/service-items", h.Admin, bad, &e, "Content-Type", "text/csv"); st != 400 {
		t.Fatalf("bad catalog: %d", st)
	}
	got := map[string]string{}
	for _, f := range e.Error.Fields {
		got[f.Field] = f.Reason
	}
	for field, why := range map[string]string{
		"row 3.types[0]":    "write the code",
		"row 4.statuses[0]": "注销",
		"row 4.fields[0]":   "经营范围",
		"row 5.types[0]":    "税务登记证",
		"row 6.material":    "NUL",
		"row 7.legal_basis": "not valid UTF-8",
		"row 8.material":    "U+FFFD",
	} {
		if !strings.Contains(got[field], why) {
			t.Errorf("%s: %q, want it to say %q (all: %v)", field, got[field], why, got)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d problems, want one per bad cell: %v", len(got), got)
	}
	if st := h.call("GET", "/api/v1/service-items/E-1", h.Admin, nil, nil); st != 404 {
		t.Fatalf("a refused catalog was saved: %d", st)
	}
}
