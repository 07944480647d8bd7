package licencefile

import (
	"slices"
	"testing"

	"github.com/certhub/certhub/certificates"
)

// TestSharedViewRestrict: a shared file keeps the rows the share grants and
// the licence's identity, drops the rest (label and value), never prints
// the holder's ID number, and masks the name unless the holder shows it.
func TestSharedViewRestrict(t *testing.T) {
	t.Parallel()
	ty := &certificates.Type{Code: "T", Name: "营业执照", HolderKind: certificates.Organisation, Fields: []certificates.Field{
		{Name: "legal_representative", Label: "法定代表人", Type: certificates.FieldString, Shareable: true},
		{Name: "address", Label: "住所", Type: certificates.FieldString, Shareable: true},
		{Name: "business_scope", Label: "经营范围", Type: certificates.FieldString},
	}}
	c := &certificates.Certificate{ID: "1.2.3", Holder: certificates.Holder{Kind: certificates.Organisation, ID: "91350100M000100Y43", Name: "杭州味之源食品有限公司"},
		Data: map[string]any{"legal_representative": "苏文博", "address": "滨江区江城路21号", "business_scope": "餐饮服务"}}
	names := func(tp *certificates.Template) []string {
		var out []string
		for _, f := range tp.Fields {
			out = append(out, f.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		view    SharedView
		rows    []string
		holder  string
		dropped []string
	}{
		{"one field, name masked", SharedView{Fields: []string{"legal_representative"}},
			[]string{"holder_name", "legal_representative", "valid_from", "valid_until", "identifier", "authority_name", "issued_at"},
			"杭州*******公司", []string{"holder_id", "address", "business_scope"}},
		{"name shown", SharedView{Fields: []string{"address"}, ShowName: true},
			[]string{"holder_name", "address", "valid_from", "valid_until", "identifier", "authority_name", "issued_at"},
			"杭州味之源食品有限公司", []string{"holder_id", "legal_representative", "business_scope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			values := certificates.DisplayValues(c, ty, "杭州市市场监督管理局", nil)
			tp := certificates.DefaultTemplate(ty)
			before := len(tp.Fields)
			got := tc.view.restrict(tp, c, values)
			if !slices.Equal(names(got), tc.rows) {
				t.Errorf("rows = %v, want %v", names(got), tc.rows)
			}
			if len(tp.Fields) != before {
				t.Error("restrict changed the type's template")
			}
			if values["holder_name"] != tc.holder {
				t.Errorf("holder_name = %q, want %q", values["holder_name"], tc.holder)
			}
			for _, name := range tc.dropped {
				if _, ok := values[name]; ok {
					t.Errorf("value %s kept: %q", name, values[name])
				}
			}
		})
	}
}
