package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Catalog creates the demo authorities (each with a seal key) and types;
// what already exists is left as it is.
func Catalog(ctx context.Context, svc *certificates.Service) error {
	for i, a := range Authorities {
		// The algorithm of the first key seals the authority's JWS
		// documents: civil affairs seals with SM2 (national algorithms
		// only), health with Ed25519, the others with ES256.
		alg := signing.ES256
		switch i {
		case 2:
			alg = signing.SM2
		case 3:
			alg = signing.EdDSA
		}
		code := Code(a.Prefix)
		err := svc.CreateAuthority(ctx, &certificates.Authority{Code: code, Name: a.Name}, string(alg))
		if err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("authority %s: %w", a.Name, err)
		}
		// Every authority also holds an SM2 key (the national e-seal) and
		// an ES256 key (PDF signatures), beside the one above.
		for _, other := range []signing.Algorithm{signing.SM2, signing.ES256} {
			if other == alg {
				continue
			}
			if _, err := svc.Keys.AddKey(ctx, code, other); err != nil && !errs.Is(err, errs.Conflict) {
				return fmt.Errorf("authority %s, %s key: %w", a.Name, other, err)
			}
		}
	}
	for _, t := range Types() {
		if err := svc.CreateType(ctx, t); err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("type %s: %w", t.Name, err)
		}
	}
	return nil
}

// Generator makes issuance requests for random holders.
type Generator struct {
	r     *rand.Rand
	Today certificates.Date
	n     int
}

// NewGenerator returns a deterministic generator for a seed.
func NewGenerator(seed uint64, today certificates.Date) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Today: today}
}

// NewGeneratorAt is NewGenerator whose certificate numbers continue after
// n, so that generators made for different parts of one large run (one per
// certificate, in any order) do not all number from the start.
func NewGeneratorAt(seed uint64, today certificates.Date, n int) *Generator {
	g := NewGenerator(seed, today)
	g.n = n
	return g
}

func (g *Generator) pastDate(minYears, maxYears int) certificates.Date {
	return g.Today.AddDays(-(minYears*365 + g.r.IntN((maxYears-minYears)*365+1)))
}

// Business returns a 营业执照 request for org.
func (g *Generator) Business(o Org) *certificates.IssueRequest {
	est := g.pastDate(1, 20)
	return &certificates.IssueRequest{Type: Market + "001", Authority: Market,
		Holder: certificates.Holder{Kind: certificates.Organisation, ID: o.USCC, Name: o.Name},
		Data: map[string]any{"legal_representative": o.Legal, "enterprise_type": "有限责任公司（自然人投资或控股）",
			"registered_capital": fmt.Sprintf("%d万元人民币", 10*(1+g.r.IntN(100))), "established_on": est.String(),
			"address": o.Address, "business_scope": "餐饮服务；食品销售；日用百货销售（依法须经批准的项目，经相关部门批准后方可开展经营活动）"},
		ValidFrom: est}
}

// FoodPermit returns a 食品经营许可证 request for org; expired makes one
// whose five years are over.
func (g *Generator) FoodPermit(o Org, expired bool) *certificates.IssueRequest {
	from := g.pastDate(0, 4)
	if expired {
		from = g.pastDate(5, 7)
	}
	g.n++
	return &certificates.IssueRequest{Type: Market + "002", Authority: Market,
		Holder: certificates.Holder{Kind: certificates.Organisation, ID: o.USCC, Name: o.Name},
		Data: map[string]any{"permit_no": fmt.Sprintf("JY%d3301%08d", 1+g.r.IntN(3), 10000000+g.n*7919%90000000),
			"legal_representative": o.Legal, "operator_type": []string{"餐饮服务经营者（小型餐馆）", "食品销售经营者（便利店）", "单位食堂"}[g.r.IntN(3)],
			"business_items": "热食类食品制售；冷食类食品制售；预包装食品（含冷藏冷冻食品）销售", "address": o.Address,
			"supervising_agency": "杭州市市场监督管理局"},
		ValidFrom: from, ValidUntil: from.AddDays(1826)}
}

// Property returns a 不动产权证书 request for p.
func (g *Generator) Property(p Person) *certificates.IssueRequest {
	from := g.pastDate(0, 15)
	g.n++
	return &certificates.IssueRequest{Type: Resources + "001", Authority: Resources,
		Holder: certificates.Holder{Kind: certificates.Person, ID: p.ID, Name: p.Name},
		Data: map[string]any{
			"certificate_no": fmt.Sprintf("浙（%s）杭州市不动产权第%07d号", from.String()[:4], g.n*104729%10000000),
			"unit_no":        fmt.Sprintf("330102%03d%03dGB%05dF%08d", g.r.IntN(1000), g.r.IntN(1000), g.r.IntN(100000), g.r.IntN(100000000)),
			"location":       fmt.Sprintf("杭州市%s%s%d号%d幢%d单元%d室", p.District, streets[g.r.IntN(len(streets))], 1+g.r.IntN(300), 1+g.r.IntN(20), 1+g.r.IntN(4), 101+g.r.IntN(2500)),
			"right_type":     "国有建设用地使用权/房屋所有权", "usage": "城镇住宅用地/住宅",
			"area": float64(4000+g.r.IntN(12000)) / 100, "co_ownership": []string{"单独所有", "共同共有"}[g.r.IntN(2)]},
		ValidFrom: from}
}

// Marriage returns the 结婚证 of a and b, one for each.
func (g *Generator) Marriage(a, b Person) []*certificates.IssueRequest {
	on := g.pastDate(0, 30)
	g.n++
	no := fmt.Sprintf("J330102-%s-%06d", on.String()[:4], g.n)
	mk := func(p, spouse Person) *certificates.IssueRequest {
		return &certificates.IssueRequest{Type: Civil + "001", Authority: Civil,
			Holder:    certificates.Holder{Kind: certificates.Person, ID: p.ID, Name: p.Name},
			Data:      map[string]any{"registration_no": no, "spouse_name": spouse.Name, "registered_on": on.String(), "registry": "杭州市上城区民政局"},
			ValidFrom: on}
	}
	return []*certificates.IssueRequest{mk(a, b), mk(b, a)}
}

// Birth returns a 出生医学证明 for a newborn (a fresh person) of mother.
func (g *Generator) Birth(child, mother Person) *certificates.IssueRequest {
	born := g.pastDate(0, 18)
	g.n++
	sex := "男"
	if child.Female {
		sex = "女"
	}
	return &certificates.IssueRequest{Type: Health + "001", Authority: Health,
		Holder: certificates.Holder{Kind: certificates.Person, ID: child.ID, Name: child.Name},
		Data: map[string]any{"certificate_no": fmt.Sprintf("Q33%08d", g.n*7907%100000000), "sex": sex, "born_on": born.String(),
			"birthplace": "浙江省杭州市" + child.District, "mother_name": mother.Name, "institution": "浙江大学医学院附属妇产科医院"},
		ValidFrom: born}
}

// Seeded is what Seed made.
type Seeded struct {
	Certificates int
	Revised      int
	Suspended    int
	Revoked      int
	Expired      int
	Tokens       []IssuedToken
	SamplePerson Person
	SampleOrg    Org
	SampleIDs    []string
	// Purpose is a purpose code the demo consumer's agreement covers.
	Purpose string
	// Holders are offered by the demo sign-in.
	Holders []DemoHolder
}

// DemoHolder is someone the demo sign-in lets you be.
type DemoHolder struct {
	Kind certificates.HolderKind `json:"kind"`
	ID   string                  `json:"id"`
	Name string                  `json:"name"`
}

// IssuedToken is a token made for the demo, with its secret.
type IssuedToken struct {
	Role      exchange.Role `json:"role"`
	Name      string        `json:"name"`
	Authority string        `json:"authority,omitempty"`
	Secret    string        `json:"token"`
}

// Seed fills an empty hub with the demo data set: the catalog, 60 people
// and 24 companies, 200+ certificates in every state, and a token per role.
func Seed(ctx context.Context, svc *certificates.Service, items *exchange.Resolver, now time.Time) (*Seeded, error) {
	reg := items.Registry
	if err := Catalog(ctx, svc); err != nil {
		return nil, err
	}
	g := NewGenerator(2026, svc.Today())
	out := &Seeded{}
	var reqs []*certificates.IssueRequest
	var people []Person
	for i := 0; i < 60; i++ {
		people = append(people, NewPerson(g.r, 100+i))
	}
	var orgs []Org
	for i := 0; i < 24; i++ {
		orgs = append(orgs, NewOrg(g.r, 1000+i))
	}
	out.SamplePerson, out.SampleOrg = people[0], orgs[0]
	for _, p := range people[:8] {
		out.Holders = append(out.Holders, DemoHolder{Kind: certificates.Person, ID: p.ID, Name: p.Name})
	}
	for _, o := range orgs[:4] {
		out.Holders = append(out.Holders, DemoHolder{Kind: certificates.Organisation, ID: o.USCC, Name: o.Name})
	}
	for i, o := range orgs {
		reqs = append(reqs, g.Business(o), g.FoodPermit(o, i%6 == 5))
		if i%4 == 0 {
			reqs = append(reqs, g.FoodPermit(o, false)) // a second shop
		}
	}
	for i, p := range people {
		reqs = append(reqs, g.Property(p))
		if i%3 == 0 {
			reqs = append(reqs, g.Property(p))
		}
		if i%2 == 0 && i+1 < len(people) {
			reqs = append(reqs, g.Marriage(p, people[i+1])...)
		}
		child := NewPerson(g.r, 700+i)
		child.District = p.District
		reqs = append(reqs, g.Birth(child, p))
	}
	var issued []*certificates.Certificate
	for _, r := range reqs {
		res, err := svc.Issue(ctx, certificates.Scope{}, r, nil)
		if err != nil {
			return nil, fmt.Errorf("issue %s for %s: %w", r.Type, r.Holder.Name, err)
		}
		issued = append(issued, res.Certificate)
		if !res.Certificate.ValidUntil.IsZero() && res.Certificate.ValidUntil.Before(svc.Today()) {
			out.Expired++
		}
	}
	out.Certificates = len(issued)
	for i, c := range issued {
		var err error
		switch {
		case i%13 == 1: // a change of address or representative: 变更
			data := map[string]any{}
			for k, v := range c.Data {
				data[k] = v
			}
			if _, ok := data["address"]; ok {
				data["address"] = fmt.Sprintf("浙江省杭州市上城区%s%d号", streets[i%len(streets)], 10+i)
			} else if _, ok := data["co_ownership"]; ok {
				data["co_ownership"] = "共同共有"
			}
			_, err = svc.Revise(ctx, certificates.Scope{}, c.ID, &certificates.ReviseRequest{Data: data, Reason: "登记事项变更"})
			out.Revised++
		case i%17 == 3:
			_, err = svc.Lifecycle(ctx, certificates.Scope{}, c.ID, certificates.Suspend, "责令停业整顿期间暂扣")
			out.Suspended++
		case i%19 == 5:
			_, err = svc.Lifecycle(ctx, certificates.Scope{}, c.ID, certificates.Revoke, "以欺骗手段取得许可，依法撤销")
			out.Revoked++
		}
		if err != nil {
			return nil, fmt.Errorf("lifecycle of %s: %w", c.ID, err)
		}
		if i < 3 {
			out.SampleIDs = append(out.SampleIDs, c.ID)
		}
	}
	for _, t := range []exchange.Token{
		{Name: "市场监管局审批系统 (issuer)", Role: exchange.RoleIssuer, Authority: Market},
		{Name: "不动产登记系统 (issuer)", Role: exchange.RoleIssuer, Authority: Resources},
		{Name: "市民中心窗口 (clerk)", Role: exchange.RoleClerk},
	} {
		secret := t.Mint(now)
		if err := reg.Tokens.CreateToken(ctx, &t); err != nil {
			return nil, err
		}
		out.Tokens = append(out.Tokens, IssuedToken{Role: t.Role, Name: t.Name, Authority: t.Authority, Secret: secret})
	}
	secret, err := sharing(ctx, items)
	if err != nil {
		return nil, err
	}
	out.Tokens = append(out.Tokens, IssuedToken{Role: exchange.RoleConsumer, Name: "一网通办受理平台 (consumer)", Secret: secret})
	out.Purpose = PurposeFoodNew
	return out, nil
}

// Demo purpose codes (service items of a provincial catalog, and a legal
// basis).
const (
	PurposeFoodNew     = "SX-330100-SCJG-001"
	PurposeCompanyOpen = "SX-330100-SCJG-002"
	PurposeTransfer    = "SX-330100-BDC-001"
	PurposeFoodLaw     = "LB-SPAQF-35"
)

// sharing registers the demo's purposes, a department system and its
// agreements (two approved, one awaiting approval), and returns the
// system's API key.
func sharing(ctx context.Context, items *exchange.Resolver) (string, error) {
	reg := items.Registry
	seed := &exchange.Principal{Role: exchange.RoleAdmin, TokenID: "demo", Name: "demo seed"}
	catalog := Items()
	if err := items.Import(ctx, seed, catalog); err != nil {
		return "", fmt.Errorf("demo service items: %w", err)
	}
	var itemCodes []string
	for _, it := range catalog {
		itemCodes = append(itemCodes, it.Code)
		if err := reg.CreatePurpose(ctx, seed, &exchange.Purpose{Code: it.Code, Name: it.Name, Kind: exchange.PurposeServiceItem,
			Basis: it.Department}); err != nil {
			return "", err
		}
	}
	for _, p := range []exchange.Purpose{
		{Code: PurposeFoodNew, Name: "食品经营许可 新办", Kind: exchange.PurposeServiceItem, Basis: "《食品经营许可和备案管理办法》"},
		{Code: PurposeCompanyOpen, Name: "企业开办（设立登记）", Kind: exchange.PurposeServiceItem, Basis: "《中华人民共和国市场主体登记管理条例》"},
		{Code: PurposeTransfer, Name: "不动产转移登记", Kind: exchange.PurposeServiceItem, Basis: "《不动产登记暂行条例》"},
		{Code: PurposeFoodLaw, Name: "食品安全监督检查", Kind: exchange.PurposeLegalBasis, Basis: "《中华人民共和国食品安全法》第三十五条"},
	} {
		if err := reg.CreatePurpose(ctx, seed, &p); err != nil {
			return "", err
		}
	}
	c := &exchange.Consumer{Name: "一网通办受理平台", USCC: OfficeUSCC, Contact: "数据资源管理局 0571-00000000"}
	if err := reg.CreateConsumer(ctx, seed, c); err != nil {
		return "", err
	}
	today := reg.Certs.Today()
	agree := func(grants []exchange.Grant, purposes []string, approve bool) error {
		a, err := reg.RequestAgreement(ctx, seed, &exchange.AgreementRequest{Consumer: c.ID, Grants: grants, Purposes: purposes,
			ValidFrom: today.AddDays(-30).String(), ValidUntil: today.AddDays(365).String(), Reason: "共享责任清单 2026 年度"})
		if err != nil || !approve {
			return err
		}
		_, err = reg.Decide(ctx, seed, a.ID, exchange.DecideApprove, "")
		return err
	}
	name := exchange.FieldHolderName
	if err := agree([]exchange.Grant{
		{Type: Market + "001", Fields: []string{name, "legal_representative", "enterprise_type", "established_on", "address"}},
		{Type: Market + "002", Fields: []string{name, "permit_no", "operator_type", "business_items", "address"}, Document: true},
	}, []string{PurposeFoodNew, PurposeCompanyOpen, PurposeFoodLaw}, true); err != nil {
		return "", err
	}
	if err := agree([]exchange.Grant{{Type: Resources + "001", Fields: []string{name, "certificate_no", "location", "right_type", "area"}}},
		[]string{PurposeTransfer}, true); err != nil {
		return "", err
	}
	if err := agree([]exchange.Grant{{Type: Civil + "001", Fields: []string{"registration_no", "registered_on"}}},
		[]string{PurposeTransfer}, false); err != nil {
		return "", err
	}
	// Once-only: every demo type, for every demo service item, with the
	// fields the items' materials need.
	if err := agree([]exchange.Grant{
		{Type: Market + "001", Fields: []string{name, "legal_representative", "enterprise_type", "address"}},
		{Type: Market + "002", Fields: []string{name, "permit_no", "operator_type", "business_items", "address"}},
		{Type: Resources + "001", Fields: []string{name, "certificate_no", "unit_no", "location", "right_type", "usage", "area"}},
		{Type: Civil + "001", Fields: []string{name, "registration_no", "registered_on", "registry"}},
		{Type: Health + "001", Fields: []string{name, "certificate_no", "sex", "born_on", "birthplace"}},
	}, itemCodes, true); err != nil {
		return "", err
	}
	_, secret, err := reg.CreateKey(ctx, seed, c.ID, "一网通办受理平台 API key")
	return secret, err
}
