package exchange

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
	"go.yaml.in/yaml/v3"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// ParseItems reads a catalog file: YAML or JSON (a list of items, or
// {"items": [...]}) or a table, CSV or .xlsx, with one row per material
// (docs/service-items.md gives the columns). A table's problems are named
// by the file's row (the header is row 1) and column; a table with bad
// cells returns its items along with the list of those problems, so that
// ValidateItems can add its own (ImportFile lists them together).
func ParseItems(name string, data []byte) ([]*ServiceItem, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		rows, err := csvRows(data)
		if err != nil {
			return nil, err
		}
		return itemsFromRows(rows)
	case ".xlsx":
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			return nil, errs.Field("file", "is not an .xlsx workbook: %v", err)
		}
		defer f.Close()
		cells, err := f.GetRows(f.GetSheetName(0))
		if err != nil {
			return nil, errs.Field("file", "the first sheet cannot be read: %v", err)
		}
		rows := make([]tableRow, 0, len(cells))
		for i, c := range cells { // GetRows keeps empty rows, so the index is the row
			rows = append(rows, tableRow{n: i + 1, cells: c})
		}
		return itemsFromRows(rows)
	}
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return nil, errs.Field("file", "is neither YAML nor JSON: %v", err)
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return nil, errs.Field("file", "cannot be read: %v", err)
	}
	var wrapped struct {
		Items []*ServiceItem `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if bytes.HasPrefix(bytes.TrimSpace(js), []byte("[")) {
		err = dec.Decode(&wrapped.Items)
	} else {
		err = dec.Decode(&wrapped)
	}
	if err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return nil, errs.Field(strings.Trim(f, `"`), "is not a known setting of a service item or material")
		}
		return nil, errs.Field("file", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return wrapped.Items, nil
}

// tableRow is one row of a table file and its number in the file (the
// line a CSV record starts on; blank lines count, as a spreadsheet shows).
type tableRow struct {
	n     int
	cells []string
}

// csvRows reads a CSV file's records with their line numbers. Bytes are
// kept as they are: the text rule, not the reader, decides what is refused.
func csvRows(data []byte) ([]tableRow, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1 // a short row only lacks optional cells
	var rows []tableRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, errs.Field("file", "is not a CSV file: %v", err)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, tableRow{n: line, cells: rec})
	}
}

// ItemColumns are the table layout's columns, in Chinese or English.
var ItemColumns = [][2]string{
	{"item_code", "事项编码"}, {"item_name", "事项名称"}, {"department", "实施部门"}, {"material", "材料名称"},
	{"certificate", "是否证照"}, {"types", "证照类型"}, {"statuses", "可接受状态"}, {"fields", "所需字段"},
	{"original_required", "需原件"}, {"legal_basis", "设定依据"},
}

// itemsFromRows groups table rows (one per material, the first the
// header) into items. Every cell must pass the text rule; a problem names
// the row and the column ("row 7.material"; a column outside the layout
// by its letter, "row 7.column K").
func itemsFromRows(rows []tableRow) ([]*ServiceItem, error) {
	if len(rows) == 0 {
		return nil, errs.Field("file", "is empty")
	}
	header := rows[0]
	col := map[string]int{}
	names := map[int]string{}
	for i, h := range header.cells {
		h = strings.TrimSpace(h)
		for _, c := range ItemColumns {
			if h == c[0] || h == c[1] {
				col[c[0]] = i
				names[i] = c[0]
			}
		}
	}
	column := func(i int) string {
		if n, ok := names[i]; ok {
			return n
		}
		letter, _ := excelize.ColumnNumberToName(i + 1)
		return "column " + letter
	}
	var l errs.List
	for _, r := range rows {
		for i, c := range r.cells {
			if why := certificates.TextProblem(c); why != "" {
				l.Add(cellPath(r.n, column(i), ""), "%s", why)
			}
		}
	}
	complete := true
	for _, c := range ItemColumns[:5] {
		if _, ok := col[c[0]]; !ok {
			l.Add(cellPath(header.n, "header", ""), "has no column %s (%s)", c[0], c[1])
			complete = false
		}
	}
	if !complete {
		return nil, l.Err() // the rows cannot be read as the layout's
	}
	cell := func(r tableRow, name string) string {
		if i, ok := col[name]; ok && i < len(r.cells) {
			return strings.TrimSpace(r.cells[i])
		}
		return ""
	}
	list := func(s string) []string {
		var out []string
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == '、' || r == ',' || r == '，' || r == ';' || r == '；' }) {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	byCode := map[string]*ServiceItem{}
	var items []*ServiceItem
	for _, r := range rows[1:] {
		if strings.TrimSpace(strings.Join(r.cells, "")) == "" {
			continue
		}
		code := cell(r, "item_code")
		it := byCode[code]
		if it == nil {
			it = &ServiceItem{Code: code, Name: cell(r, "item_name"), Department: cell(r, "department"), row: r.n}
			byCode[code] = it
			items = append(items, it)
		} else {
			// An item's later rows may leave its name and department
			// blank, but must not contradict the first.
			for _, c := range []struct{ col, first string }{{"item_name", it.Name}, {"department", it.Department}} {
				if v := cell(r, c.col); v != "" && v != c.first {
					l.Add(cellPath(r.n, c.col, ""), "is %q, but row %d of item %s says %q", v, it.row, code, c.first)
				}
			}
		}
		cert, err := yesNo(cell(r, "certificate"))
		if err != nil {
			l.Add(cellPath(r.n, "certificate", ""), "%v", err)
		}
		orig, err := yesNo(cell(r, "original_required"))
		if err != nil {
			l.Add(cellPath(r.n, "original_required", ""), "%v", err)
		}
		it.Materials = append(it.Materials, Material{Name: cell(r, "material"), Certificate: cert, Types: list(cell(r, "types")),
			Statuses: list(cell(r, "statuses")), Fields: list(cell(r, "fields")), OriginalRequired: orig, LegalBasis: cell(r, "legal_basis"),
			row: r.n})
	}
	return items, l.Err()
}

func yesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "否", "no", "n", "false", "0":
		return false, nil
	case "是", "yes", "y", "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("must be 是/否 (yes/no), got %q", s)
}
