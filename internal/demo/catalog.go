// Package demo builds certhub's demo and load-test data: realistic issuing
// authorities, certificate types with Chinese names and fields, holders
// with valid citizen ID numbers and USCCs, and certificates in every
// lifecycle state. Everything goes through certificates.Service, the same
// path as an API issuance.
package demo

import (
	"fmt"
	"math/rand/v2"

	"github.com/certhub/certhub/certificates"
)

// Authorities of the demo. Their USCCs are made valid by Code.
var Authorities = []struct{ Prefix, Name string }{
	{"11330100MB0000001", "杭州市市场监督管理局"},
	{"11330100MB0000002", "杭州市规划和自然资源局"},
	{"11330102MB0000003", "杭州市上城区民政局"},
	{"11330100MB0000004", "杭州市卫生健康委员会"},
}

// Code completes a 17-character USCC prefix with its check character.
func Code(prefix string) string { return prefix + string(certificates.USCCCheck(prefix)) }

// Authority codes by role in the demo.
var (
	Market    = Code(Authorities[0].Prefix)
	Resources = Code(Authorities[1].Prefix)
	Civil     = Code(Authorities[2].Prefix)
	Health    = Code(Authorities[3].Prefix)
	// OfficeUSCC is the demo's department system's organisation (杭州市数据资源管理局).
	OfficeUSCC = Code("11330100MB0000005")
)

func f(name, label, labelEN string, t certificates.FieldType, required, shareable bool) certificates.Field {
	return certificates.Field{Name: name, Label: label, LabelEN: labelEN, Type: t, Required: required, Shareable: shareable}
}

const (
	str  = certificates.FieldString
	date = certificates.FieldDate
	num  = certificates.FieldNumber
)

func days(n int) *int { return &n }

// Types returns the demo's certificate types.
func Types() []*certificates.Type {
	return []*certificates.Type{
		{Code: Market + "001", Name: "营业执照", DefiningAuthority: Market, HolderKind: certificates.Organisation, Fields: []certificates.Field{
			f("legal_representative", "法定代表人", "Legal representative", str, true, true),
			f("enterprise_type", "类型", "Type", str, true, true),
			f("registered_capital", "注册资本", "Registered capital", str, false, true),
			f("established_on", "成立日期", "Date of establishment", date, true, true),
			f("address", "住所", "Domicile", str, true, true),
			f("business_scope", "经营范围", "Business scope", str, true, false),
		}},
		{Code: Market + "002", Name: "食品经营许可证", DefiningAuthority: Market, HolderKind: certificates.Organisation, MaxValidityDays: days(1827), Fields: []certificates.Field{
			f("permit_no", "许可证编号", "Permit number", str, true, true),
			f("legal_representative", "法定代表人（负责人）", "Legal representative (person in charge)", str, true, true),
			f("operator_type", "主体业态", "Operator type", str, true, true),
			f("business_items", "经营项目", "Business items", str, true, true),
			f("address", "经营场所", "Business premises", str, true, true),
			f("supervising_agency", "日常监督管理机构", "Supervising agency", str, false, false),
		}},
		{Code: Resources + "001", Name: "不动产权证书", DefiningAuthority: Resources, HolderKind: certificates.Person, Fields: []certificates.Field{
			f("certificate_no", "证书编号", "Certificate number", str, true, true),
			f("unit_no", "不动产单元号", "Real estate unit number", str, true, true),
			f("location", "坐落", "Location", str, true, true),
			f("right_type", "权利类型", "Type of right", str, true, true),
			f("usage", "用途", "Usage", str, true, true),
			f("area", "面积（平方米）", "Area (m²)", num, true, true),
			f("co_ownership", "共有情况", "Co-ownership", str, true, false),
		}},
		{Code: Civil + "001", Name: "结婚证", DefiningAuthority: Civil, HolderKind: certificates.Person, Fields: []certificates.Field{
			f("registration_no", "字号", "Registration number", str, true, true),
			f("spouse_name", "配偶姓名", "Spouse's name", str, true, false),
			f("registered_on", "登记日期", "Date of registration", date, true, true),
			f("registry", "登记机关", "Registration authority", str, true, true),
		}},
		{Code: Health + "001", Name: "出生医学证明", DefiningAuthority: Health, HolderKind: certificates.Person, Fields: []certificates.Field{
			f("certificate_no", "出生医学证明编号", "Birth certificate number", str, true, true),
			f("sex", "性别", "Sex", str, true, true),
			f("born_on", "出生日期", "Date of birth", date, true, true),
			f("birthplace", "出生地点", "Place of birth", str, true, true),
			f("mother_name", "母亲姓名", "Mother's name", str, true, false),
			f("father_name", "父亲姓名", "Father's name", str, false, false),
			f("institution", "接生机构", "Delivering institution", str, true, false),
		}},
	}
}

var (
	surnames  = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	given     = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "浩然", "子涵", "欣怡", "梓轩", "雨桐", "宇轩", "思远", "晨曦", "一诺", "嘉怡", "俊杰", "佳琪", "文博"}
	firms     = []string{"味之源", "江南春", "百味轩", "知味观", "湖畔居", "青藤", "西溪", "钱塘", "望江", "运河", "良渚", "之江", "同福", "新丰", "景和", "嘉禾", "瑞丰", "恒升", "德昌", "宏远"}
	firmKind  = []string{"餐饮管理有限公司", "食品有限公司", "便利店有限公司", "农产品有限公司", "餐饮有限公司", "商贸有限公司"}
	streets   = []string{"延安路", "解放路", "庆春路", "凤起路", "中山北路", "体育场路", "文三路", "教工路", "莫干山路", "秋涛路", "江城路", "建国北路"}
	districts = []struct{ Code, Name string }{{"330102", "上城区"}, {"330105", "拱墅区"}, {"330106", "西湖区"}, {"330108", "滨江区"}, {"330109", "萧山区"}, {"330110", "余杭区"}}
)

// Person is a demo citizen.
type Person struct {
	ID, Name string
	Female   bool
	District string
}

// Org is a demo company.
type Org struct {
	USCC, Name, Legal, Address string
}

// NewPerson makes a citizen with a valid ID number; n makes it unique.
func NewPerson(r *rand.Rand, n int) Person {
	d := districts[r.IntN(len(districts))]
	y, m, day := 1950+r.IntN(55), 1+r.IntN(12), 1+r.IntN(28)
	seq := n % 1000
	female := r.IntN(2) == 0
	if female == (seq%2 == 1) { // the sequence's last digit is odd for men
		seq = (seq + 1) % 1000
	}
	first17 := fmt.Sprintf("%s%04d%02d%02d%03d", d.Code, y, m, day, seq)
	return Person{ID: first17 + string(certificates.CitizenIDCheck(first17)),
		Name:   string(surnames[r.IntN(len(surnames))]) + given[r.IntN(len(given))],
		Female: female, District: d.Name}
}

// NewOrg makes a company with a valid USCC; n makes it unique.
func NewOrg(r *rand.Rand, n int) Org {
	d := districts[r.IntN(len(districts))]
	// 91 (enterprise) + division code + a 9-character organisation code.
	first17 := fmt.Sprintf("91%sMA2%06d", d.Code, n%1000000)
	return Org{USCC: first17 + string(certificates.USCCCheck(first17)),
		Name:    "杭州" + firms[r.IntN(len(firms))] + firmKind[r.IntN(len(firmKind))],
		Legal:   string(surnames[r.IntN(len(surnames))]) + given[r.IntN(len(given))],
		Address: fmt.Sprintf("浙江省杭州市%s%s%d号", d.Name, streets[r.IntN(len(streets))], 1+r.IntN(400))}
}
