package exchange

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"go.yaml.in/yaml/v3"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// ServiceItem is a government service item (政务服务事项) from a service
// guide: who handles it and which materials an applicant must provide.
type ServiceItem struct {
	Code       string     `json:"code"`
	Name       string     `json:"name"`
	Department string     `json:"department"`
	Materials  []Material `json:"materials"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Material is one required material. A government-issued certificate is
// satisfied by any of Types in one of Statuses (default: valid); Fields are
// what the office needs of it. OriginalRequired keeps the paper original
// legally required (with its basis), so it is never counted as avoided.
type Material struct {
	Name             string   `json:"name"`
	Certificate      bool     `json:"certificate"`
	Types            []string `json:"types,omitempty"`
	Statuses         []string `json:"statuses,omitempty"`
	Fields           []string `json:"fields,omitempty"`
	OriginalRequired bool     `json:"original_required"`
	LegalBasis       string   `json:"legal_basis,omitempty"`
	// Flags are raised on import: no_legal_basis, catch_all (兜底条款).
	Flags []string `json:"flags,omitempty"`
}

// Material flags.
const (
	FlagNoLegalBasis = "no_legal_basis"
	FlagCatchAll     = "catch_all"
)

// ItemStore keeps the service item catalog and the resolutions.
type ItemStore interface {
	// PutItems creates or replaces items, all in one transaction.
	PutItems(ctx context.Context, items []*ServiceItem) error
	// Item returns an item; errs.NotFound if unknown.
	Item(ctx context.Context, code string) (*ServiceItem, error)
	ListItems(ctx context.Context) ([]*ServiceItem, error)
	// RecordResolution counts a resolved case once, a case being an item,
	// a consumer and its case id: a retry keeps the better count (more
	// avoided; as many avoided and fewer avoidable) rather than adding to
	// it. Two consumers with the same case id are two cases.
	RecordResolution(ctx context.Context, r *Resolution) error
	// Resolutions lists the cases resolved on days from..to (YYYY-MM-DD).
	Resolutions(ctx context.Context, from, to string) ([]Resolution, error)
}

// Resolution is one case of one item at one consumer: materials required,
// avoided, and avoidable with an agreement (answered not_permitted, and
// not needed as an original).
type Resolution struct {
	Item       string    `json:"item"`
	CaseID     string    `json:"case_id"`
	Department string    `json:"department"`
	Consumer   string    `json:"consumer"`
	Day        string    `json:"day"`
	Required   int       `json:"required"`
	Avoided    int       `json:"avoided"`
	Avoidable  int       `json:"avoidable_with_agreement"`
	At         time.Time `json:"at"`
}

var itemCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// catchAll spots the wording of a catch-all clause (兜底条款): a material
// that is whatever the office later decides.
var catchAll = regexp.MustCompile(`其他(有关|相关|必要|需要)?(的)?材料|其它(有关|相关)?材料|等(有关|相关)?材料$|要求的其他|认为需要|兜底`)

// ValidateItems checks a catalog to import, listing every problem with its
// path, and sets each material's flags. Types must exist in the certificate
// catalog and fields must be theirs.
func ValidateItems(ctx context.Context, certs *certificates.Service, items []*ServiceItem) error {
	var l errs.List
	if len(items) == 0 {
		l.Add("items", "the file holds no service item")
	}
	seen := map[string]int{}
	for i, it := range items {
		at := fmt.Sprintf("items[%d]", i)
		if !itemCode.MatchString(it.Code) {
			l.Add(at+".code", "must be 1 to 64 letters, digits, '.', '_', ':' or '-', got %q", it.Code)
		} else if j, dup := seen[it.Code]; dup {
			l.Add(at+".code", "duplicate code %s (also items[%d])", it.Code, j)
		} else {
			seen[it.Code] = i
		}
		text(&l, at+".name", it.Name, 200, true)
		text(&l, at+".department", it.Department, 200, true)
		if len(it.Materials) == 0 {
			l.Add(at+".materials", "is empty: an item lists what the applicant must provide")
		}
		for j := range it.Materials {
			m := &it.Materials[j]
			mat := fmt.Sprintf("%s.materials[%d]", at, j)
			text(&l, mat+".name", m.Name, 200, true)
			text(&l, mat+".legal_basis", m.LegalBasis, 2000, false)
			m.Flags = nil
			if strings.TrimSpace(m.LegalBasis) == "" {
				m.Flags = append(m.Flags, FlagNoLegalBasis)
			}
			if catchAll.MatchString(m.Name) {
				m.Flags = append(m.Flags, FlagCatchAll)
			}
			if !m.Certificate {
				if len(m.Types) > 0 || len(m.Fields) > 0 {
					l.Add(mat+".types", "only a government-issued certificate (certificate: true) names types and fields")
				}
				continue
			}
			if len(m.Types) == 0 {
				l.Add(mat+".types", "a certificate material names the certificate types that satisfy it")
			}
			var known []*certificates.Type
			for k, code := range m.Types {
				t, err := certs.Type(ctx, code)
				if errs.Is(err, errs.NotFound) || code == "" {
					l.Add(fmt.Sprintf("%s.types[%d]", mat, k), "unknown certificate type %q", code)
					continue
				} else if err != nil {
					return err
				}
				known = append(known, t)
			}
			for k, st := range m.Statuses {
				if _, err := certificates.ParseStatus(st); err != nil || st == string(certificates.StatusSuperseded) {
					l.Add(fmt.Sprintf("%s.statuses[%d]", mat, k), "must be valid, suspended, expired or revoked, got %q", st)
				}
			}
			for k, f := range m.Fields {
				ok := f == FieldHolderName
				for _, t := range known {
					ok = ok || slices.ContainsFunc(t.Fields, func(tf certificates.Field) bool { return tf.Name == f })
				}
				if !ok && len(known) == len(m.Types) {
					l.Add(fmt.Sprintf("%s.fields[%d]", mat, k), "no type of this material has a field %q", f)
				}
			}
		}
	}
	return l.Err()
}

// Accepts reports whether a certificate status satisfies the material.
func (m *Material) Accepts(st certificates.Status) bool {
	if len(m.Statuses) == 0 {
		return st == certificates.StatusValid
	}
	return slices.Contains(m.Statuses, string(st))
}

// ParseItems reads a catalog file: YAML or JSON (a list of items, or
// {"items": [...]}) or a table, CSV or .xlsx, with one row per material
// (docs/service-items.md gives the columns). A table with bad cells
// returns its items along with the list of those problems.
func ParseItems(name string, data []byte) ([]*ServiceItem, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
		if err != nil {
			return nil, errs.Field("file", "is not a CSV file: %v", err)
		}
		return itemsFromRows(rows)
	case ".xlsx":
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			return nil, errs.Field("file", "is not an .xlsx workbook: %v", err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetName(0))
		if err != nil {
			return nil, errs.Field("file", "the first sheet cannot be read: %v", err)
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

// ItemColumns are the table layout's columns, in Chinese or English.
var ItemColumns = [][2]string{
	{"item_code", "事项编码"}, {"item_name", "事项名称"}, {"department", "实施部门"}, {"material", "材料名称"},
	{"certificate", "是否证照"}, {"types", "证照类型"}, {"statuses", "可接受状态"}, {"fields", "所需字段"},
	{"original_required", "需原件"}, {"legal_basis", "设定依据"},
}

// itemsFromRows groups table rows (one per material) into items.
func itemsFromRows(rows [][]string) ([]*ServiceItem, error) {
	if len(rows) == 0 {
		return nil, errs.Field("file", "is empty")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		h = strings.TrimSpace(h)
		for _, c := range ItemColumns {
			if h == c[0] || h == c[1] {
				col[c[0]] = i
			}
		}
	}
	var l errs.List
	for _, c := range ItemColumns[:5] {
		if _, ok := col[c[0]]; !ok {
			l.Add("header", "has no column %s (%s)", c[0], c[1])
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	cell := func(r []string, name string) string {
		if i, ok := col[name]; ok && i < len(r) {
			return strings.TrimSpace(r[i])
		}
		return ""
	}
	list := func(s string) []string {
		var out []string
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == '、' || r == ',' || r == '，' || r == ';' }) {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	byCode := map[string]*ServiceItem{}
	var items []*ServiceItem
	for n, r := range rows[1:] {
		if strings.TrimSpace(strings.Join(r, "")) == "" {
			continue
		}
		code := cell(r, "item_code")
		it := byCode[code]
		if it == nil {
			it = &ServiceItem{Code: code, Name: cell(r, "item_name"), Department: cell(r, "department")}
			byCode[code] = it
			items = append(items, it)
		}
		cert, err := yesNo(cell(r, "certificate"))
		if err != nil {
			l.Add(fmt.Sprintf("row %d.certificate", n+2), "%v", err)
		}
		orig, err := yesNo(cell(r, "original_required"))
		if err != nil {
			l.Add(fmt.Sprintf("row %d.original_required", n+2), "%v", err)
		}
		it.Materials = append(it.Materials, Material{Name: cell(r, "material"), Certificate: cert, Types: list(cell(r, "types")),
			Statuses: list(cell(r, "statuses")), Fields: list(cell(r, "fields")), OriginalRequired: orig, LegalBasis: cell(r, "legal_basis")})
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
