package certificates

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/certhub/certhub/internal/errs"
)

// TextProblem is the one rule for text that enters the hub: API bodies and
// headers, connector records, catalog files. It returns why s may not be
// sealed or stored, or "" when it may. Free text may hold tabs and line
// breaks; nothing else that does not print is accepted:
//   - invalid UTF-8 (never repaired silently: a repaired name is a different name);
//   - U+FFFD, the mark of text already damaged by a wrong encoding upstream;
//   - C0 controls other than tab, LF and CR, DEL, and the C1 controls;
//   - bidirectional embeddings, overrides and isolates, which make the text a
//     person reads differ from the text that is sealed.
func TextProblem(s string) string {
	return textProblem(s, true)
}

// LineProblem is TextProblem for one-line text (names, codes, case ids,
// purposes): tabs and line breaks are refused too.
func LineProblem(s string) string {
	return textProblem(s, false)
}

func textProblem(s string, multiline bool) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Sprintf("is not valid UTF-8 (byte %d is 0x%02X); send UTF-8 text", i, s[i])
			}
			return "holds U+FFFD, the replacement character: the text was damaged by a wrong character encoding before it reached the hub"
		case r == '\t' || r == '\n' || r == '\r':
			if !multiline {
				return fmt.Sprintf("holds a %s; it must be one line", controlName(r))
			}
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Sprintf("holds the control character %s", controlName(r))
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Sprintf("holds the bidirectional control character U+%04X, which makes the text shown differ from the text sealed", r)
		}
	}
	return ""
}

var controlNames = map[rune]string{
	0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "tab", 0x0a: "line feed", 0x0b: "VT", 0x0c: "FF",
	0x0d: "carriage return", 0x1b: "ESC", 0x7f: "DEL",
}

func controlName(r rune) string {
	if n, ok := controlNames[r]; ok {
		return fmt.Sprintf("U+%04X (%s)", r, n)
	}
	return fmt.Sprintf("U+%04X", r)
}

// CheckStrings applies TextProblem to every string in v, map keys included,
// and records each problem under its JSON path (field "data.name",
// "fields[2].label"). v is what a JSON decoder produced: structs (named by
// their json tags), maps, slices, pointers, json.RawMessage.
func CheckStrings(field string, v any, l *errs.List) {
	checkValue(field, reflect.ValueOf(v), l)
}

func checkValue(path string, v reflect.Value, l *errs.List) {
	if !v.IsValid() {
		return
	}
	if v.Type() == reflect.TypeFor[json.RawMessage]() {
		raw := v.Bytes()
		if len(raw) == 0 {
			return
		}
		if !utf8.Valid(raw) {
			l.Add(orBody(path), "is not valid UTF-8; send UTF-8 text")
			return
		}
		var x any
		if json.Unmarshal(raw, &x) == nil {
			checkValue(path, reflect.ValueOf(x), l)
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if p := TextProblem(v.String()); p != "" {
			l.Add(orBody(path), "%s", p)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkValue(path, v.Elem(), l)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes are not text
		}
		for i := range v.Len() {
			checkValue(path+"["+strconv.Itoa(i)+"]", v.Index(i), l)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String {
				if p := TextProblem(k.String()); p != "" {
					l.Add(join(path, strconv.QuoteToASCII(k.String())), "field name %s", p)
					continue
				}
			}
			checkValue(join(path, name), iter.Value(), l)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				checkValue(path, v.Field(i), l)
				continue
			}
			if name == "" {
				name = f.Name
			}
			checkValue(join(path, name), v.Field(i), l)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
