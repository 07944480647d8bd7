package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/httpapi"
	"github.com/certhub/certhub/internal/hubtest"
)

// TestBadTextNeverReachesASeal sends text that must never be sealed or
// stored (invalid UTF-8, U+FFFD, NUL, ESC, BEL, BS, DEL, bidi overrides) in
// bodies and headers of the endpoints that take text, on the embedded
// default and on PostgreSQL. Each is a 400 naming the field; no row, no
// object, no serial is used up.
func TestBadTextNeverReachesASeal(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name string
		opts []hubtest.Option
	}{{"sqlite", nil}, {"postgres", []hubtest.Option{hubtest.OnPostgres()}}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, store.opts...)
			h.seed()
			consumer := h.token(exchange.RoleConsumer, "")
			holder := h.holderToken(companyID, "福建某某科技有限公司")
			var first struct{ ID, Serial string }
			if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &first); st != 201 {
				t.Fatalf("issue: %d", st)
			}
			issue := func(holderName, rep string) string {
				return `{"type":"` + licence + `","authority":"` + marketCode + `","holder":{"kind":"organisation","id":"` + companyID +
					`","name":"` + holderName + `"},"data":{"legal_representative":"` + rep + `","established_on":"2020-05-01"},` +
					`"valid_from":"2020-05-01","valid_until":"2030-04-27"}`
			}
			lookup := "/api/v1/certificates?holder_id=" + companyID
			def := `{"name": "licence-push", "kind": "file", "source": {"dir": "` + t.TempDir() + `"}, "type": "` + licence + `", "authority": "` + marketCode + `",
				"mapping": {"key": ["no"], "holder": {"kind": {"const": "organisation"}, "id": {"field": "uscc"}, "name": {"field": "name"}},
				"data": {"legal_representative": {"field": "rep"}, "established_on": {"field": "since", "date": "auto"}},
				"valid_from": {"field": "since", "date": "auto"}, "valid_until": {"field": "until", "date": "auto"}}}`
			if st := h.call("POST", "/api/v1/connectors", h.Admin, def, nil); st != 201 {
				t.Fatalf("apply connector: %d", st)
			}
			tests := []struct {
				name, method, path, token, body string
				headers                         []string
				field, reason                   string
			}{
				{"invalid UTF-8 in a holder name", "POST", "/api/v1/certificates", h.Admin, issue("吴\xff\xfe海峰", "张三"), nil, "holder.name", "not valid UTF-8"},
				{"U+FFFD in a holder name", "POST", "/api/v1/certificates", h.Admin, issue(`吴\ufffd海峰`, "张三"), nil, "holder.name", "U+FFFD"},
				{"NUL in a holder name", "POST", "/api/v1/certificates", h.Admin, issue(`吴\u0000海峰`, "张三"), nil, "holder.name", "NUL"},
				{"ESC in a data field", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", `\u001b[31m张三`), nil, "data.legal_representative", "ESC"},
				{"BEL in a data field", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", `张三\u0007`), nil, "data.legal_representative", "BEL"},
				{"BS in a data field", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", `张\b三`), nil, "data.legal_representative", "BS"},
				{"DEL in a data field", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", "张三\x7f"), nil, "data.legal_representative", "DEL"},
				{"bidi override in a data field", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", `张\u202e三`), nil, "data.legal_representative", "bidirectional"},
				{"NUL in a revision's holder name", "POST", "/api/v1/certificates/" + first.ID + "/revisions", h.Admin, `{"holder_name":"a\u0000b"}`, nil, "holder_name", "NUL"},
				{"invalid UTF-8 in a revision's data", "POST", "/api/v1/certificates/" + first.ID + "/revisions", h.Admin, "{\"data\":{\"legal_representative\":\"\xc3\x28\"}}", nil, "data.legal_representative", "not valid UTF-8"},
				{"BEL in a revocation reason", "POST", "/api/v1/certificates/" + first.ID + "/revoke", h.Admin, `{"reason":"ok\u0007"}`, nil, "reason", "BEL"},
				{"NUL in a share purpose", "POST", "/api/v1/me/shares", holder, `{"certificate_id":"` + first.ID + `","purpose":"租房\u0000"}`, nil, "purpose", "NUL"},
				{"ESC in an authority name", "POST", "/api/v1/authorities", h.Admin, `{"code":"11330100MB0000003Q","name":"\u001b]0;x"}`, nil, "name", "ESC"},
				{"NUL in a token name", "POST", "/api/v1/tokens", h.Admin, `{"name":"a\u0000","role":"clerk"}`, nil, "name", "NUL"},
				{"invalid UTF-8 in a consumer name", "POST", "/api/v1/consumers", h.Admin, "{\"name\":\"\xff\",\"uscc\":\"" + companyID + "\"}", nil, "name", "not valid UTF-8"},
				{"NUL in a match value", "POST", "/api/v1/match", consumer, `{"type":"` + licence + `","holder_id":"` + companyID + `","fields":{"legal_representative":"张\u0000"}}`,
					[]string{"X-Purpose", "SX-001", "X-Case-Id", "c-1"}, "fields.legal_representative", "NUL"},
				{"NUL in a pushed record", "POST", "/api/v1/connectors/licence-push/records", h.Admin, `{"records":[{"no":"1","rep":"\u0000"}]}`, nil, "records[0].rep", "NUL"},
				{"invalid UTF-8 in X-Case-Id", "GET", lookup, consumer, "", []string{"X-Purpose", "SX-001", "X-Case-Id", "案\xff"}, "X-Case-Id", "not valid UTF-8"},
				{"U+FFFD in X-Purpose", "GET", lookup, consumer, "", []string{"X-Purpose", "SX-001\ufffd", "X-Case-Id", "c"}, "X-Purpose", "U+FFFD"},
				{"invalid UTF-8 in Idempotency-Key", "POST", "/api/v1/certificates", h.Admin, issue("吴海峰", "张三"), []string{"Idempotency-Key", "k\xff"}, "Idempotency-Key", "not valid UTF-8"},
			}
			rows, docs := h.rows(), h.documents()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var out errorAnswer
					st := h.call(tt.method, tt.path, tt.token, tt.body, &out, tt.headers...)
					if st != http.StatusBadRequest || !out.names(tt.field, tt.reason) {
						t.Fatalf("status %d, error %+v; want 400 naming %s with %q", st, out.Error, tt.field, tt.reason)
					}
				})
			}
			if h.rows() != rows || h.documents() != docs {
				t.Fatalf("bad text changed the stores: rows %d -> %d, documents %d -> %d", rows, h.rows(), docs, h.documents())
			}
			// No serial was used up: the next issuance follows the first.
			var next struct{ ID, Serial string }
			if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &next); st != 201 {
				t.Fatalf("valid issuance after the refusals: %d", st)
			}
			if got, want := serialOf(next.ID), serialOf(first.ID); got != want+1 {
				t.Fatalf("serial after refusals = %d, want %d: a refused request used one up", got, want+1)
			}
		})
	}
}

// serialOf reads the serial component of a GB/T 36904 identifier.
func serialOf(id string) int {
	parts := strings.Split(id, ".")
	n := 0
	for _, c := range parts[len(parts)-3] {
		n = n*10 + int(c-'0')
	}
	return n
}

type errorAnswer struct {
	Error struct {
		Code, Message, Field string
		Fields               []struct{ Field, Reason string }
	}
}

// names reports whether the error names field with a reason containing reason.
func (e errorAnswer) names(field, reason string) bool {
	found := e.Error.Field == field && strings.Contains(e.Error.Message, reason)
	for _, f := range e.Error.Fields {
		found = found || (f.Field == field && strings.Contains(f.Reason, reason))
	}
	return found
}

// TestEveryJSONEndpointTakesExactlyOneValue sends every route that reads a
// JSON body a stray '}' or ']' after its object, and an object padded with
// whitespace past the size limit: 400 and 413, whatever the route.
func TestEveryJSONEndpointTakesExactlyOneValue(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	tokens := map[exchange.Role]string{
		exchange.RoleAdmin:    h.Admin,
		exchange.RoleConsumer: h.token(exchange.RoleConsumer, ""),
		exchange.RoleHolder:   h.holderToken(companyID, "福建某某科技有限公司"),
	}
	// Routes whose bodies are not JSON values: a form (RFC 6749), and
	// files (a connector definition in YAML or JSON, a catalog in CSV, xlsx,
	// YAML or JSON, a seal picture in PNG), each parsed by its own format's reader.
	notJSON := map[string]bool{"POST /api/v1/oauth/token": true, "POST /api/v1/connectors": true, "POST /api/v1/service-items": true,
		"PUT /api/v1/authorities/{code}/seal": true}
	params := strings.NewReplacer("{code}", marketCode, "{id}", issued.ID, "{name}", "none")
	padded := "{}" + strings.Repeat(" ", 1<<20)
	n := 0
	for _, rt := range httpapi.Routes {
		if (rt.Method != "POST" && rt.Method != "PUT") || notJSON[rt.Method+" "+rt.Pattern] || rt.Public() && rt.Pattern != "/api/v1/verify" {
			continue
		}
		token := ""
		for _, role := range rt.Roles {
			if tokens[role] != "" {
				token = tokens[role]
				break
			}
		}
		if token == "" && !rt.Public() {
			continue
		}
		n++
		path := params.Replace(rt.Pattern)
		hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "c-1"}
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			// What the route answers to an empty object tells whether it reads
			// the body at all before refusing (an unknown id, say).
			var base errorAnswer
			baseSt := h.call(rt.Method, path, token, "{}", &base, hdr...)
			for _, stray := range []string{"{}}", "{}]", "{} {}", "{}x"} {
				var out errorAnswer
				st := h.call(rt.Method, path, token, stray, &out, hdr...)
				if st == baseSt && baseSt != 400 && baseSt < 300 {
					t.Fatalf("%q accepted (%d)", stray, st)
				}
				if st == 400 && !out.names("body", "one JSON value") {
					t.Fatalf("%q: 400 %+v does not say the body must hold one JSON value", stray, out.Error)
				}
				if st != 400 && st != baseSt {
					t.Fatalf("%q: %d, want 400 (or %d like an empty object)", stray, st, baseSt)
				}
			}
			var out errorAnswer
			if st := h.call(rt.Method, path, token, padded, &out, hdr...); st != 413 && (baseSt < 300 || baseSt == 400) {
				t.Fatalf("object padded past the limit: %d %+v, want 413", st, out.Error)
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d JSON routes were tried", n)
	}
}
