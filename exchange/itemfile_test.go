package exchange_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// problems returns a refusal's problems as "field: reason" lines.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Invalid {
		t.Fatalf("want a list of problems, got %v", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+": "+f.Reason)
	}
	return out
}

// hasProblem reports whether one problem names field and says why.
func hasProblem(list []string, field, why string) bool {
	return slices.ContainsFunc(list, func(p string) bool { return strings.HasPrefix(p, field+": ") && strings.Contains(p, why) })
}

// TestParseItemsTableRows: a table's problems are named by the file's row
// (the header is row 1, blank lines and quoted line breaks counted as a
// spreadsheet shows them) and column, and every cell passes the hub's text
// rule: invalid UTF-8, NUL and other controls, and U+FFFD are refused.
func TestParseItemsTableRows(t *testing.T) {
	t.Parallel()
	csv := "事项编码,事项名称,实施部门,材料名称,是否证照,证照类型,设定依据,备注\n" + // row 1
		"A-1,企业开办,某局,申请书,否,,《条例》,\n" + // row 2
		"\n" + // row 3, blank
		"A-1,企业开办,某局,\"营业执照\n（副本）\",是,营业执照,《条例》,\n" + // rows 4-5
		"A-1,企业开办,某局,许可证\xff,也许,,《条例》\x00,\n" + // row 6
		"A-1,企业开办（变更）,某局,章程,否,,《条例》,\x07\n" + // row 7
		"A-2,\ufffd\ufffd登记,某局,申请书,否,,,\n" // row 8
	items, err := exchange.ParseItems("c.csv", []byte(csv))
	got := problems(t, err)
	for _, want := range [][2]string{
		{"row 6.material", "not valid UTF-8"},
		{"row 6.certificate", "是/否"},
		{"row 6.legal_basis", "NUL"},
		{"row 7.item_name", "row 2"},
		{"row 7.column H", "control character"},
		{"row 8.item_name", "U+FFFD"},
	} {
		if !hasProblem(got, want[0], want[1]) {
			t.Errorf("no problem %s (%s); got\n%s", want[0], want[1], strings.Join(got, "\n"))
		}
	}
	if len(got) != 6 {
		t.Errorf("%d problems, want 6:\n%s", len(got), strings.Join(got, "\n"))
	}
	if len(items) != 2 || len(items[0].Materials) != 4 || items[0].Materials[1].Name != "营业执照\n（副本）" {
		t.Fatalf("items read along with the problems: %+v", items)
	}

	// The same in a workbook: rows are the sheet's, empty ones included.
	f := excelize.NewFile()
	for cell, row := range map[string][]any{
		"A1": {"item_code", "item_name", "department", "material", "certificate"},
		"A2": {"B-1", "不动产登记", "某局", "申请书", "no"},
		"A4": {"B-1", "不动产登记", "某局", "身份证明\x07", "maybe"},
	} {
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	_, err = exchange.ParseItems("c.xlsx", buf.Bytes())
	got = problems(t, err)
	// The workbook library stores the control character as U+FFFD.
	if len(got) != 2 || !hasProblem(got, "row 4.material", "") || !hasProblem(got, "row 4.certificate", "是/否") {
		t.Fatalf("workbook problems:\n%s", strings.Join(got, "\n"))
	}

	// A header without the layout's columns reads nothing.
	if _, err := exchange.ParseItems("c.csv", []byte("事项编码,名称\nA,b\n")); !hasProblem(problems(t, err), "row 1.header", "item_name") {
		t.Fatalf("incomplete header: %v", err)
	}
}
