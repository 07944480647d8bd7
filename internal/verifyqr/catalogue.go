package verifyqr

import (
	"encoding/json"
	"strconv"
)

// BadLicenceTypes: the licence type catalogue file is not the catalogue.
const BadLicenceTypes Reason = "bad_licence_types"

// Catalogue is the licence type catalogue the hub serves at
// GET /.well-known/certhub-licence-types: what a compact QR's field numbers
// are called. It is not signed and changes nothing in a verdict: it only
// names fields, which the signed QR carries by number.
type Catalogue struct {
	Profile string                   `json:"profile"`
	Types   map[string]CatalogueType `json:"types"`
}

// CatalogueType is one licence type of the catalogue.
type CatalogueType struct {
	Name   string                    `json:"name"`
	Fields map[string]CatalogueField `json:"fields"` // by field number, in decimal
}

// CatalogueField names one shareable field.
type CatalogueField struct {
	Name  string            `json:"name"`
	Type  string            `json:"type"`
	Label map[string]string `json:"label"` // "zh-CN", "en"
}

// ParseCatalogue reads the catalogue (profile CH1).
func ParseCatalogue(b []byte) (*Catalogue, error) {
	var c Catalogue
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, failf(BadLicenceTypes, "not the licence type catalogue: %v", err)
	}
	if c.Profile != "CH1" {
		return nil, failf(BadLicenceTypes, "profile %q, want CH1", c.Profile)
	}
	return &c, nil
}

// field names field n of a type; ok false when the catalogue does not know it.
func (c *Catalogue) field(typeCode string, n uint64) (CatalogueField, bool) {
	if c == nil {
		return CatalogueField{}, false
	}
	f, ok := c.Types[typeCode].Fields[strconv.FormatUint(n, 10)]
	return f, ok
}
