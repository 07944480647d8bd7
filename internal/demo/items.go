package demo

import "github.com/certhub/certhub/exchange"

// Demo service items (政务服务事项) in the style of a provincial service
// guide. Their codes are also purpose codes, so an office names the item
// it handles when it asks.
const (
	ItemFoodNew        = "330100-SCJG-SP-001"
	ItemFoodChange     = "330100-SCJG-SP-002"
	ItemSoleTrader     = "330100-SCJG-GT-001"
	ItemCompanyChange  = "330100-SCJG-QY-002"
	ItemTransfer       = "330100-ZRZY-BDC-003"
	ItemMortgage       = "330100-ZRZY-BDC-007"
	ItemBirth          = "330100-GA-HJ-001"
	ItemMarriageHukou  = "330100-GA-HJ-012"
	ItemFertility      = "330100-WJ-SY-001"
	ItemSubsistence    = "330100-MZ-JZ-001"
	ItemMarriageRecord = "330100-MZ-HY-005"
)

func cert(name string, types []string, fields []string, basis string) exchange.Material {
	return exchange.Material{Name: name, Certificate: true, Types: types, Fields: fields, LegalBasis: basis}
}

func paper(name, basis string) exchange.Material {
	return exchange.Material{Name: name, LegalBasis: basis}
}

// Items returns the demo's service items: market supervision, natural
// resources, public security, health and civil affairs; several of their
// materials are satisfied by the demo's certificate types.
func Items() []*exchange.ServiceItem {
	licence, food, property := []string{Market + "001"}, []string{Market + "002"}, []string{Resources + "001"}
	marriage, birth := []string{Civil + "001"}, []string{Health + "001"}
	foodLaw := "《食品经营许可和备案管理办法》第十二条"
	register := "《中华人民共和国市场主体登记管理条例》第十六条"
	estate := "《不动产登记暂行条例实施细则》第三十八条"
	hukou := "《中华人民共和国户口登记条例》第七条"
	return []*exchange.ServiceItem{
		{Code: ItemFoodNew, Name: "食品经营许可 新办", Department: "杭州市市场监督管理局", Materials: []exchange.Material{
			paper("食品经营许可申请书", foodLaw),
			cert("营业执照", licence, []string{"holder_name", "legal_representative", "address"}, foodLaw),
			paper("法定代表人（负责人）身份证明", foodLaw),
			paper("与食品经营相适应的主要设备设施布局、操作流程等文件", foodLaw),
			paper("食品安全自查、从业人员健康管理、进货查验记录等保证食品安全的规章制度", foodLaw),
			paper("经营场所平面图", foodLaw),
			cert("经营场所产权证明", property, []string{"holder_name", "location", "usage"}, foodLaw),
			paper("其他有关材料", ""),
		}},
		{Code: ItemFoodChange, Name: "食品经营许可 变更", Department: "杭州市市场监督管理局", Materials: []exchange.Material{
			paper("食品经营许可变更申请书", foodLaw),
			cert("食品经营许可证", food, []string{"permit_no", "operator_type", "business_items", "address"}, foodLaw),
			cert("营业执照", licence, []string{"holder_name", "legal_representative"}, foodLaw),
			paper("与变更事项有关的材料", foodLaw),
		}},
		{Code: ItemSoleTrader, Name: "个体工商户设立登记", Department: "杭州市上城区市场监督管理局", Materials: []exchange.Material{
			paper("个体工商户登记（备案）申请书", "《促进个体工商户发展条例》"),
			paper("经营者身份证明", "《促进个体工商户发展条例》"),
			cert("经营场所使用证明", property, []string{"holder_name", "location"}, "《市场主体登记管理条例实施细则》第二十五条"),
		}},
		{Code: ItemCompanyChange, Name: "有限责任公司变更登记", Department: "杭州市市场监督管理局", Materials: []exchange.Material{
			paper("公司变更登记申请书", register),
			cert("营业执照", licence, []string{"holder_name", "legal_representative", "enterprise_type", "address"}, register),
			paper("股东会决议", register),
			paper("修改后的公司章程", register),
		}},
		{Code: ItemTransfer, Name: "不动产转移登记（二手房买卖）", Department: "杭州市规划和自然资源局", Materials: []exchange.Material{
			paper("不动产登记申请书", estate),
			paper("申请人身份证明", estate),
			{Name: "不动产权证书", Certificate: true, Types: property, Fields: []string{"holder_name", "certificate_no", "unit_no", "location", "area"},
				OriginalRequired: true, LegalBasis: "《不动产登记暂行条例实施细则》第三十八条：原不动产权属证书应当收回"},
			cert("婚姻状况证明（共有财产）", marriage, []string{"registration_no", "registered_on"}, estate),
			paper("不动产买卖合同", estate),
			paper("完税凭证", "《中华人民共和国契税法》第十一条"),
		}},
		{Code: ItemMortgage, Name: "不动产抵押权首次登记", Department: "杭州市规划和自然资源局", Materials: []exchange.Material{
			paper("不动产登记申请书", estate),
			cert("不动产权证书", property, []string{"holder_name", "certificate_no", "location", "right_type"}, estate),
			paper("主债权合同", estate),
			paper("抵押合同", estate),
		}},
		{Code: ItemBirth, Name: "出生登记", Department: "杭州市公安局", Materials: []exchange.Material{
			cert("出生医学证明", birth, []string{"holder_name", "certificate_no", "sex", "born_on", "birthplace"}, hukou),
			cert("父母结婚证", marriage, []string{"registration_no", "registered_on"}, hukou),
			paper("父母居民户口簿", hukou),
			paper("父母居民身份证", hukou),
		}},
		{Code: ItemMarriageHukou, Name: "婚姻登记后的户口迁移（投靠配偶）", Department: "杭州市公安局", Materials: []exchange.Material{
			paper("户口迁移申请表", hukou),
			cert("结婚证", marriage, []string{"holder_name", "registration_no", "registered_on", "registry"}, hukou),
			paper("双方居民户口簿", hukou),
			cert("合法稳定住所证明", property, []string{"holder_name", "location"}, "《浙江省户口迁移登记规定》"),
			paper("公安机关认为需要提供的其他材料", ""),
		}},
		{Code: ItemFertility, Name: "生育登记", Department: "杭州市卫生健康委员会", Materials: []exchange.Material{
			paper("生育登记表", "《浙江省人口与计划生育条例》"),
			cert("结婚证", marriage, []string{"registration_no", "registered_on"}, "《浙江省人口与计划生育条例》"),
			paper("夫妻双方身份证明", "《浙江省人口与计划生育条例》"),
		}},
		{Code: ItemSubsistence, Name: "最低生活保障申请", Department: "杭州市上城区民政局", Materials: []exchange.Material{
			paper("最低生活保障申请书", "《社会救助暂行办法》第十一条"),
			paper("家庭成员身份证明", "《社会救助暂行办法》第十一条"),
			cert("婚姻状况证明", marriage, []string{"registration_no", "registered_on"}, "《社会救助暂行办法》第十一条"),
			{Name: "家庭财产状况（不动产）", Certificate: true, Types: property, Fields: []string{"certificate_no", "location", "area"},
				Statuses: []string{"valid", "suspended"}, LegalBasis: "《最低生活保障审核确认办法》第十条"},
			paper("家庭收入状况证明", "《最低生活保障审核确认办法》第十条"),
		}},
		{Code: ItemMarriageRecord, Name: "补领结婚证", Department: "杭州市上城区民政局", Materials: []exchange.Material{
			paper("补领结婚证申请书", "《婚姻登记条例》第十七条"),
			paper("当事人身份证明", "《婚姻登记条例》第十七条"),
			cert("原婚姻登记档案证明", marriage, []string{"registration_no", "registered_on", "registry"}, "《婚姻登记工作规范》第六十一条"),
			paper("近期半身免冠合影照片", "《婚姻登记工作规范》第六十一条"),
		}},
	}
}
