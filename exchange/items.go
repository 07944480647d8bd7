package exchange

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

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

	row int // the table row it was first read from (header = 1); 0 from YAML or JSON
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

	row int // the table row it was read from (header = 1); 0 from YAML or JSON
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

// ValidateItems checks a catalog to import, listing every problem where
// the file has it (the table's row and column, or the item's path in YAML
// or JSON), and sets each material's flags. It resolves what people write
// in catalogs against the certificate catalog: a type by its code or its
// name, a field by its name or its label, a status by its code, its
// Chinese label (有效, 暂扣, 撤销, 失效) or its national code (01, 02, 03,
// 05); the items come back holding codes and names only. Types must exist
// and fields must be theirs. Every text passes the hub's text rule.
//
// With remote set (the hub is in a federation), a type code this hub does
// not know is accepted when another hub of the federation holds that type:
// its certificates are looked up there when the item is resolved. Fields
// of such a type are written by their names, as that hub's type has them.
// With copies set, a type whose copies a child pushed here is known by the
// definition it pushed, and its fields are checked against it.
func ValidateItems(ctx context.Context, certs *certificates.Service, remote Remote, copies Copies, items []*ServiceItem) error {
	var l errs.List
	if len(items) == 0 {
		l.Add("items", "the file holds no service item")
	}
	byName := typeNames{certs: certs}
	seen := map[string]int{}
	for i, it := range items {
		at := func(field string) string {
			if it.row > 0 {
				return cellPath(it.row, map[string]string{"code": "item_code", "name": "item_name"}[field], field)
			}
			return fmt.Sprintf("items[%d].%s", i, field)
		}
		if !itemCode.MatchString(it.Code) {
			l.Add(at("code"), "must be 1 to 64 letters, digits, '.', '_', ':' or '-', got %q", it.Code)
		} else if j, dup := seen[it.Code]; dup {
			l.Add(at("code"), "duplicate code %s (also items[%d])", it.Code, j)
		} else {
			seen[it.Code] = i
		}
		text(&l, at("name"), it.Name, 200, true)
		text(&l, at("department"), it.Department, 200, true)
		if len(it.Materials) == 0 {
			l.Add(at("materials"), "is empty: an item lists what the applicant must provide")
		}
		for j := range it.Materials {
			m := &it.Materials[j]
			mat := func(field string) string {
				if m.row > 0 {
					return cellPath(m.row, map[string]string{"name": "material"}[field], field)
				}
				return fmt.Sprintf("items[%d].materials[%d].%s", i, j, field)
			}
			text(&l, mat("name"), m.Name, 200, true)
			text(&l, mat("legal_basis"), m.LegalBasis, 2000, false)
			m.Flags = nil
			if strings.TrimSpace(m.LegalBasis) == "" {
				m.Flags = append(m.Flags, FlagNoLegalBasis)
			}
			if catchAll.MatchString(m.Name) {
				m.Flags = append(m.Flags, FlagCatchAll)
			}
			if !m.Certificate {
				if len(m.Types) > 0 || len(m.Fields) > 0 {
					l.Add(mat("types"), "only a government-issued certificate (certificate: true) names types and fields")
				}
				continue
			}
			if len(m.Types) == 0 {
				l.Add(mat("types"), "a certificate material names the certificate types that satisfy it")
			}
			var known []*certificates.Type
			for k, code := range m.Types {
				where := mat(fmt.Sprintf("types[%d]", k))
				if why := certificates.LineProblem(code); why != "" {
					l.Add(where, "%s", why)
					continue
				}
				t, err := byName.resolve(ctx, code)
				if errs.Is(err, errs.Invalid) && copies != nil {
					if ft, ferr := copies.FederatedType(ctx, code); ferr == nil {
						t, err = &ft.Type, nil
					} else if !errs.Is(ferr, errs.NotFound) {
						return ferr
					}
				}
				if errs.Is(err, errs.Invalid) && remote != nil {
					if hub, rerr := remote.HolderOf(ctx, code); rerr == nil && hub != "" {
						continue // another hub's type, kept as written
					}
				}
				if err != nil {
					if errs.Is(err, errs.Invalid) {
						l.Add(where, "%s", err.(*errs.Error).Message)
						continue
					}
					return err
				}
				m.Types[k] = t.Code
				known = append(known, t)
			}
			for k, st := range m.Statuses {
				if why := certificates.LineProblem(st); why != "" {
					l.Add(mat(fmt.Sprintf("statuses[%d]", k)), "%s", why)
				} else if code, ok := materialStatus(st); ok {
					m.Statuses[k] = string(code)
				} else {
					l.Add(mat(fmt.Sprintf("statuses[%d]", k)), "must be valid, suspended, expired or revoked (有效, 暂扣, 失效, 撤销), got %q", st)
				}
			}
			for k, f := range m.Fields {
				where := mat(fmt.Sprintf("fields[%d]", k))
				if why := certificates.LineProblem(f); why != "" {
					l.Add(where, "%s", why)
					continue
				}
				name, err := fieldName(known, f)
				switch {
				case err != nil:
					l.Add(where, "%s", err.(*errs.Error).Message)
				case name != "":
					m.Fields[k] = name
				case len(known) == len(m.Types): // an unknown type is reported already
					l.Add(where, "no type of this material has a field named or labelled %q", f)
				}
			}
		}
	}
	return l.Err()
}

// cellPath names a table cell in a problem: "row 7.types[1]". column is
// the layout's column (ItemColumns), defaulting to field.
func cellPath(row int, column, field string) string {
	if column == "" {
		column = field
	}
	return fmt.Sprintf("row %d.%s", row, column)
}

// typeNames resolves a certificate type written by code or by name, the
// catalog's names read once per import.
type typeNames struct {
	certs  *certificates.Service
	byName map[string][]*certificates.Type
}

func (n *typeNames) resolve(ctx context.Context, s string) (*certificates.Type, error) {
	if s == "" {
		return nil, errs.Field("types", "is empty")
	}
	t, err := n.certs.Type(ctx, s)
	if err == nil || !errs.Is(err, errs.NotFound) {
		return t, err
	}
	if n.byName == nil {
		all, err := n.certs.Store.ListTypes(ctx)
		if err != nil {
			return nil, err
		}
		n.byName = map[string][]*certificates.Type{}
		for _, t := range all {
			n.byName[t.Name] = append(n.byName[t.Name], t)
		}
	}
	switch ts := n.byName[strings.TrimSpace(s)]; len(ts) {
	case 0:
		return nil, errs.Field("types", "unknown certificate type %q: neither the code nor the name of a type in the catalog", s)
	case 1:
		return ts[0], nil
	default:
		codes := make([]string, 0, len(ts))
		for _, t := range ts {
			codes = append(codes, t.Code)
		}
		return nil, errs.Field("types", "%d certificate types are named %q (%s): write the code", len(ts), s, strings.Join(codes, ", "))
	}
}

// holderNameLabels are what catalogs call the holder's name.
var holderNameLabels = []string{"持证主体名称", "持证主体", "持证人", "持证人名称", "持证人姓名"}

// fieldName resolves a field written by name or by label against the
// material's types: the field's name, "" if no type has it, or an error if
// the label names different fields of different types.
func fieldName(types []*certificates.Type, s string) (string, error) {
	if s == FieldHolderName || slices.Contains(holderNameLabels, s) {
		return FieldHolderName, nil
	}
	for _, t := range types {
		if slices.ContainsFunc(t.Fields, func(f certificates.Field) bool { return f.Name == s }) {
			return s, nil
		}
	}
	var names []string
	for _, t := range types {
		for _, f := range t.Fields {
			if f.Label == s && !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	if len(names) > 1 {
		return "", errs.Field("fields", "the label %q names different fields (%s) of this material's types: write the field's name", s, strings.Join(names, ", "))
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", nil
}

// materialStatus reads an acceptable status: its code, its Chinese label,
// its national code, or a common synonym (吊销 for revoked, 过期 for
// expired). Superseded versions are never acceptable.
func materialStatus(s string) (certificates.Status, bool) {
	s = strings.TrimSpace(s)
	for _, st := range []certificates.Status{certificates.StatusValid, certificates.StatusSuspended, certificates.StatusRevoked, certificates.StatusExpired} {
		if strings.EqualFold(s, string(st)) || s == st.Label() || s == st.Code() {
			return st, true
		}
	}
	switch s {
	case "吊销", "已吊销", "已撤销":
		return certificates.StatusRevoked, true
	case "过期", "已过期":
		return certificates.StatusExpired, true
	case "已暂扣":
		return certificates.StatusSuspended, true
	}
	return "", false
}

// Accepts reports whether a certificate status satisfies the material.
func (m *Material) Accepts(st certificates.Status) bool {
	if len(m.Statuses) == 0 {
		return st == certificates.StatusValid
	}
	return slices.Contains(m.Statuses, string(st))
}
