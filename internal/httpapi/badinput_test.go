package httpapi_test

import (
	"strings"
	"testing"
)

// TestBadInputChangesNothing sends invalid issuances: each gets a 4xx JSON
// error naming the field, and leaves no row and no object behind.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	with := func(mut func(b map[string]any)) map[string]any {
		b := issueBody()
		mut(b)
		return b
	}
	data := func(b map[string]any) map[string]any { return b["data"].(map[string]any) }
	tests := []struct {
		name   string
		body   any
		status int
		field  string
		reason string
	}{
		{"malformed JSON", `{"type": `, 400, "body", "malformed JSON"},
		{"not an object", `[1,2]`, 400, "body", "object"},
		{"empty body", ``, 400, "body", "empty"},
		{"two objects", `{} {}`, 400, "body", "one JSON value"},
		{"stray brace", `{"type": "x"}}`, 400, "body", "one JSON value"},
		{"stray bracket", `{"type": "x"}]`, 400, "body", "one JSON value"},
		{"oversized by trailing whitespace", `{}` + strings.Repeat(" ", 2<<20), 413, "body", "larger than"},
		{"unknown field", with(func(b map[string]any) { b["colour"] = "red" }), 400, "colour", "not a known field"},
		{"wrong JSON type", with(func(b map[string]any) { b["holder"] = "someone" }), 400, "holder", "object"},
		{"unknown type", with(func(b map[string]any) { b["type"] = marketCode + "999" }), 400, "type", "does not exist"},
		{"malformed authority", with(func(b map[string]any) { b["authority"] = "12345" }), 400, "authority", "18 characters"},
		{"unknown authority", with(func(b map[string]any) { b["authority"] = "91350100M000100Y43" }), 400, "authority", "does not exist"},
		{"USCC check character", with(func(b map[string]any) { b["holder"].(map[string]string)["id"] = "91350100M000100Y44" }), 400, "holder.id", "check character"},
		{"person id for organisation type", with(func(b map[string]any) {
			b["holder"] = map[string]string{"kind": "person", "id": personID, "name": "张三"}
		}), 400, "holder.kind", "organisation"},
		{"holder kind", with(func(b map[string]any) { b["holder"].(map[string]string)["kind"] = "robot" }), 400, "holder.kind", "person or organisation"},
		{"holder name", with(func(b map[string]any) { b["holder"].(map[string]string)["name"] = " " }), 400, "holder.name", "required"},
		{"missing required field", with(func(b map[string]any) { delete(data(b), "legal_representative") }), 400, "data.legal_representative", "required"},
		{"unknown data field", with(func(b map[string]any) { data(b)["shoe_size"] = 42 }), 400, "data.shoe_size", "not a field"},
		{"date field not a date", with(func(b map[string]any) { data(b)["established_on"] = "2020-13-01" }), 400, "data.established_on", "not a date"},
		{"number field", with(func(b map[string]any) { data(b)["capital"] = "lots" }), 400, "data.capital", "number"},
		{"boolean field", with(func(b map[string]any) { data(b)["listed"] = "yes" }), 400, "data.listed", "true or false"},
		{"valid_from missing", with(func(b map[string]any) { delete(b, "valid_from") }), 400, "valid_from", "required"},
		{"valid_from malformed", with(func(b map[string]any) { b["valid_from"] = "2020/05/01" }), 400, "valid_from", "YYYY-MM-DD"},
		{"dates out of order", with(func(b map[string]any) { b["valid_until"] = "2019-01-01" }), 400, "valid_until", "before valid_from"},
		{"validity too long", with(func(b map[string]any) { b["valid_until"] = "2040-01-01" }), 400, "valid_until", "at most 3650 days"},
		{"validity required by type", with(func(b map[string]any) { b["valid_until"] = nil }), 400, "valid_until", "required"},
		{"oversized body", `{"type":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "body", "larger than"},
	}
	rows, docs := h.rows(), h.documents()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out struct {
				Error struct {
					Code, Message, Field string
					Fields               []struct{ Field, Reason string }
				}
			}
			st := h.call("POST", "/api/v1/certificates", h.Admin, tt.body, &out)
			if st != tt.status {
				t.Fatalf("status %d, want %d (%+v)", st, tt.status, out.Error)
			}
			found := out.Error.Field == tt.field && strings.Contains(out.Error.Message, tt.reason)
			for _, f := range out.Error.Fields {
				found = found || (f.Field == tt.field && strings.Contains(f.Reason, tt.reason))
			}
			if !found {
				t.Fatalf("error %+v does not name field %q with reason %q", out.Error, tt.field, tt.reason)
			}
		})
	}
	if h.rows() != rows || h.documents() != docs {
		t.Fatalf("bad input changed the stores: rows %d -> %d, documents %d -> %d", rows, h.rows(), docs, h.documents())
	}
	// Several problems at once are all listed.
	var out struct {
		Error struct{ Fields []struct{ Field string } }
	}
	h.call("POST", "/api/v1/certificates", h.Admin, map[string]any{"type": licence, "authority": marketCode,
		"holder": map[string]string{"kind": "organisation", "id": "x", "name": ""}, "data": map[string]any{}, "valid_from": "2020-01-01"}, &out)
	if len(out.Error.Fields) < 4 {
		t.Fatalf("want every problem listed, got %+v", out.Error.Fields)
	}
	// A valid issuance after all that still works.
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
		t.Fatalf("valid issuance: %d", st)
	}
	if h.rows() != rows+1 || h.documents() != docs+1 {
		t.Fatalf("valid issuance stored rows %d documents %d", h.rows()-rows, h.documents()-docs)
	}
}

func TestCatalogBadInput(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	tests := []struct {
		path  string
		body  any
		field string
	}{
		{"/api/v1/authorities", map[string]string{"code": "11330100MB0000001X", "name": "x"}, "code"},
		{"/api/v1/authorities", map[string]string{"code": "11330100MB0000003Q", "name": ""}, "code"},
		{"/api/v1/authorities", map[string]string{"code": marketCode, "name": "x", "algorithm": "RS256"}, "algorithm"},
		{"/api/v1/types", map[string]any{"code": otherCode + "001", "name": "x", "defining_authority": marketCode, "holder_kind": "person",
			"fields": []map[string]any{{"name": "a", "label": "A", "type": "string"}}}, "code"},
		{"/api/v1/types", map[string]any{"code": marketCode + "002", "name": "x", "defining_authority": marketCode, "holder_kind": "person",
			"fields": []map[string]any{{"name": "Bad Name", "label": "A", "type": "string"}}}, "fields[0].name"},
		{"/api/v1/types", map[string]any{"code": marketCode + "002", "name": "x", "defining_authority": marketCode, "holder_kind": "person",
			"fields": []map[string]any{{"name": "a", "label": "A", "type": "blob"}}}, "fields[0].type"},
		{"/api/v1/types", map[string]any{"code": marketCode + "002", "name": "x", "defining_authority": marketCode, "holder_kind": "alien",
			"fields": []map[string]any{{"name": "a", "label": "A", "type": "string"}}}, "holder_kind"},
		{"/api/v1/types", map[string]any{"code": marketCode + "002", "name": "x", "defining_authority": marketCode, "holder_kind": "person",
			"fields": []map[string]any{}}, "fields"},
	}
	for _, tt := range tests {
		var out struct{ Error struct{ Field string } }
		if st := h.call("POST", tt.path, h.Admin, tt.body, &out); st != 400 || out.Error.Field != tt.field {
			t.Errorf("POST %s %v: %d field %q, want 400 field %q", tt.path, tt.body, st, out.Error.Field, tt.field)
		}
	}
	// Duplicates conflict.
	if st := h.call("POST", "/api/v1/authorities", h.Admin, map[string]string{"code": marketCode, "name": "again"}, nil); st != 409 {
		t.Errorf("duplicate authority: %d, want 409", st)
	}
	var types struct{ Types []any }
	h.call("GET", "/api/v1/types", h.Admin, nil, &types)
	if len(types.Types) != 1 {
		t.Fatalf("bad input created types: %d", len(types.Types))
	}
}
