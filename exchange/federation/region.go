package federation

import (
	"fmt"
	"strings"
)

// Regions are 行政区划 codes (GB/T 2260): six digits, two for the
// province, two for the city, two for the county; a level's trailing pairs
// are 00 (330000 a province, 330100 a city, 330102 a county). 000000 is the
// national level, which holds every region.

// ValidHubID checks a hub id: a six-digit 行政区划 code.
func ValidHubID(id string) error {
	if len(id) != 6 || strings.Trim(id, "0123456789") != "" {
		return fmt.Errorf("%q is not a six-digit 行政区划 code (330102 for a county, 330100 a city, 330000 a province)", id)
	}
	if id != "000000" && id[:2] == "00" {
		return fmt.Errorf("%q has no province (its first two digits are 00)", id)
	}
	if id[2:4] == "00" && id[4:] != "00" {
		return fmt.Errorf("%q names a county without a city (digits 3–4 are 00)", id)
	}
	return nil
}

// regionPrefix is the part of a code that a region's members share:
// 330102 → 330102, 330100 → 3301, 330000 → 33, 000000 → "".
func regionPrefix(id string) string {
	switch {
	case id == "000000":
		return ""
	case id[2:] == "0000":
		return id[:2]
	case id[4:] == "00":
		return id[:4]
	}
	return id
}

// level is 0 for the nation, 1 province, 2 city, 3 county.
func level(id string) int { return len(regionPrefix(id)) / 2 }

// Within reports whether region code is inside the region of hub (a hub's
// own code is within it).
func Within(code, hub string) bool {
	return len(code) == 6 && strings.HasPrefix(code, regionPrefix(hub))
}

// ChildOf reports whether child may be admitted by parent: inside the
// parent's region and at a lower level (a county under its city or its
// province, a city under its province).
func ChildOf(child, parent string) bool {
	return child != parent && Within(child, parent) && level(child) > level(parent)
}

// AuthorityRegion is the region of an authority's registration: characters
// 3–8 of its unified social credit code (统一社会信用代码).
func AuthorityRegion(uscc string) (string, error) {
	if len(uscc) != 18 {
		return "", fmt.Errorf("%q is not an 18-character unified social credit code", uscc)
	}
	r := uscc[2:8]
	if strings.Trim(r, "0123456789") != "" {
		return "", fmt.Errorf("%q: characters 3–8 (%s) are not a 行政区划 code", uscc, r)
	}
	return r, nil
}
