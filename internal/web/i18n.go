package web

import (
	"net/http"
	"strings"
)

// Pages speak Chinese first; English is chosen with ?lang=en (remembered in
// a cookie) or an Accept-Language that prefers English.
var messages = map[string]map[string]string{
	"zh": {
		"lang": "zh-CN", "other_lang": "English", "other_lang_code": "en",
		"brand": "电子证照", "wallet": "我的证照", "verify": "证照核验", "logout": "退出",
		"login_title": "登录", "login_oidc": "使用统一身份认证登录", "demo_login": "演示登录（仅演示环境）",
		"demo_note":   "这是演示环境，可以任选一位演示用户登录。正式环境只能通过统一身份认证登录。",
		"demo_clerk":  "以窗口工作人员身份登录（演示）",
		"clerk_login": "窗口工作人员登录", "clerk_token": "工作人员令牌", "sign_in": "登录",
		"my_certificates": "我的证照", "no_certificates": "暂无证照。",
		"authority": "颁发机构", "type": "证照类型", "identifier": "证照标识", "holder": "持证主体",
		"validity": "有效期", "valid_from": "起", "valid_until": "至", "no_end": "长期",
		"status": "状态", "fields": "证照信息", "seal": "电子印章", "seal_image": "印章",
		"seal_ok": "电子印章验证通过", "seal_bad": "电子印章验证未通过",
		"share": "分享", "share_title": "出示或分享这张证照", "share_fields": "分享哪些信息",
		"share_expires": "有效时长", "share_max_views": "最多查看次数（可不填）", "share_purpose": "用途说明（显示为水印）", "purpose": "用途",
		"share_show_name": "显示我的完整姓名/名称", "create_share": "生成二维码",
		"my_shares": "我的分享", "no_shares": "还没有分享。", "share_link": "分享链接",
		"expires_at": "失效时间", "views": "查看次数", "revoke": "撤销", "revoked": "已撤销", "live": "有效", "ended": "已失效",
		"share_views": "查看记录", "no_views": "还没有人查看。", "viewed_at": "时间", "client": "访问方式", "network": "网络",
		"m10": "10 分钟", "h1": "1 小时", "d1": "1 天", "d7": "7 天", "d30": "30 天",
		"valid": "有效", "invalid": "无效", "purpose_mark": "仅用于", "shared_certificate": "证照分享",
		"share_invalid": "分享链接无效或已失效", "share_invalid_help": "链接可能已过期、被撤销或已达到查看次数上限。请持证人重新生成二维码。",
		"share_until": "本次分享有效至", "views_left": "剩余查看次数",
		"verify_title": "证照核验", "scan": "扫码", "scan_help": "将二维码对准摄像头。", "start_camera": "打开摄像头", "stop_camera": "关闭摄像头",
		"upload": "上传二维码图片", "upload_help": "照片或截图（PNG、JPEG、GIF、WebP，最大 8 MB）。", "choose_file": "选择图片",
		"paste": "粘贴电子证照文件", "paste_help": "JWS 格式的电子证照文件内容。", "number": "输入证照标识",
		"check": "核验", "result": "核验结果", "camera_unavailable": "无法打开摄像头，请改用上传图片。",
		"r_bad_signature": "伪造签名", "r_revoked": "已撤销", "r_expired": "已过期", "r_suspended": "已暂扣",
		"r_superseded": "已被新版本取代", "r_not_found": "未找到", "r_malformed_document": "无法识别的证照文件",
		"r_unknown_key": "未知的签章密钥", "r_malformed_identifier": "证照标识格式错误", "r_issuer_mismatch": "颁发机构不符",
		"r_unknown_document": "文件与存档不符", "r_der_signature": "SM2 签名为 DER 编码（应为 64 字节 r‖s）", "r_sm2_signature_without_z": "SM2 签名未包含 Z 值（用户标识 1234567812345678）",
		"r_not_yet_valid": "尚未生效", "r_share_invalid": "分享链接无效或已失效",
		"r_unrecognised": "无法识别：请提供分享二维码、电子证照文件或证照标识", "r_seal_bad": "电子印章验证未通过",
		"upload_file": "上传电子证照文件（OFD 或 PDF）", "upload_file_help": "持证人提供的 OFD 或 PDF 电子证照文件（最大 8 MB）。",
		"file_failed": "无法读取文件", "form": "文件格式", "file_problems": "文件问题",
		"r_seal_invalid": "签章无效", "r_digest_mismatch": "文件内容已被改动", "r_not_whole_file": "文件含有签章未覆盖的内容",
		"r_untrusted_signer": "签章证书不受信任", "r_unknown_identifier": "文件中的证照标识不存在",
		"error": "出错了", "back": "返回", "forbidden": "您没有权限访问此页面。", "not_found": "页面不存在。",
		"bad_request": "请求有误", "too_large": "文件太大（最大 8 MB）。", "csrf": "页面已过期，请刷新后重试。", "unavailable": "系统依赖的服务暂时不可用，请稍后重试。",
		"download_ofd": "下载 OFD", "download_pdf": "下载 PDF", "downloads": "证照文件",
		"file_unavailable": "无法生成这种格式的证照文件。", "share_file_invalid": "这张证照当前无效，不提供文件下载。",
		"share_pdf_help":  "PDF 只包含本次分享的信息，并加注用途水印。下载也计为一次查看。",
		"current_version": "当前版本", "upload_failed": "无法读取图片",
		"accesses": "谁使用了我的证照", "accesses_help": "各部门查询、调取您的证照的每一次记录（用途、案件号），以及分享被查看的记录。", "no_accesses": "还没有使用记录。",
		"who": "使用方", "what": "操作", "case": "案件号",
		"a_lookup": "查询", "a_read": "调阅", "a_document": "下载证照文件", "a_share_view": "查看分享", "a_share_create": "创建分享", "a_clerk_verify": "窗口核验",
		"a_issue": "签发", "a_revise": "变更", "a_suspend": "暂扣", "a_reinstate": "恢复", "a_revoke": "撤销", "masked_note": "（已隐藏部分信息）", "signed_in_as": "当前用户",
		"admin_login": "管理员登录", "admin_token": "管理员令牌", "login_failed": "令牌无效或已撤销。",
		"reports": "使用统计", "reports_help": "各部门查询、比对、窗口核验、分享查看，以及签发和状态变更的次数，按日、月、季、年汇总。",
		"period": "统计周期", "p_day": "日报", "p_month": "月报", "p_quarter": "季报", "p_year": "年报", "from": "开始日期", "to": "结束日期",
		"show": "查看", "download_csv": "下载 CSV", "total": "合计", "by_actor": "使用最多的", "no_usage": "这段时间没有使用记录。", "count": "次数",
		"u_lookup": "查询", "u_document": "调取文件", "u_match": "比对", "u_verification": "窗口核验", "u_share_view": "分享查看",
		"u_issuance": "签发", "u_revision": "变更", "u_lifecycle": "状态变更",
		"agreements": "共享协议", "agreements_help": "每个部门系统可以调取哪些证照、哪些字段、用于哪些事项，以及有效期和调用频率上限。待审批的排在最前。部门系统被立案调查时可暂停其协议，调查结束后恢复；撤回则永久终止。",
		"no_agreements": "还没有共享协议。", "consumer": "部门系统", "types": "证照类型", "purposes": "用途",
		"rate": "每分钟上限", "state": "状态", "document_granted": "含证照文件", "reason": "理由",
		"approve": "批准", "reject": "驳回", "withdraw": "撤回", "suspend": "暂停", "resume": "恢复", "holder_name": "持证主体名称",
		"s_requested": "待审批", "s_approved": "已批准（未生效）", "s_active": "生效中", "s_expired": "已到期", "s_rejected": "已驳回", "s_suspended": "已暂停", "s_withdrawn": "已撤回",
		"a_match": "比对", "a_resolve": "办事免提交核验",
		"annotated": "加注件", "annotated_help": "为一项用途生成加注件：用途和有效期作为水印印在文件每一页，过期或撤销后核验不通过。",
		"ann_purpose": "用途", "ann_expires_at": "有效期至", "create_annotated": "生成加注件",
		"ann_purpose_problem": "请填写一项用途（不超过 100 个字，不含换行或控制字符）。", "ann_expires_at_problem": "请选择今天起 90 天以内的日期。",
		"my_annotated": "我的加注件", "no_annotated": "还没有加注件。",
		"ann_valid": "有效", "ann_expired": "已过期", "ann_revoked": "已撤销",
		"annotated_gone": "这份加注件已不能使用。", "r_annotated_copy_revoked": "加注件已被撤销", "r_annotated_copy_expired": "加注件已过期", "r_annotated_copy_unknown": "加注件不存在",
		"a_annotate": "制作加注件", "a_annotated_file": "下载加注件", "a_annotated_revoke": "撤销加注件",
		"bring": "办事前查一查：还需要带什么？", "bring_help": "选择要办理的事项，看看哪些材料已经由电子证照替代，不用再提交。", "service_item": "办理事项", "check_item": "查一查",
		"bring_summary_1": "共需", "bring_summary_2": "项材料，其中", "bring_summary_3": "项可由电子证照替代，无需提交。",
		"o_satisfied": "已有电子证照，免提交", "o_not_found": "需自行提交", "o_provide": "需自行准备", "o_expired": "证照已过期", "o_revoked": "证照已撤销",
		"o_suspended": "证照已暂扣", "o_not_permitted": "需部门核实", "original_still": "仍需携带原件",
		"materials_report": "材料减少统计", "materials_help": "每个事项、每个部门：办件数、应交材料数、由电子证照替代的材料数和替代比例（材料减少），以及因缺少共享协议而未能免交的材料数。",
		"item": "事项", "department": "实施部门", "cases": "办件数", "required": "应交材料", "avoided": "免交材料", "avoided_share": "减少比例", "avoidable_with_agreement": "可通过共享协议免交",
		"avoidable_help": "“可通过共享协议免交”是部门系统因没有相应共享协议而未能调取的电子证照材料：不计入减少比例，签订协议后即可免交。", "no_resolutions": "这段时间没有办件。",
		"service_items": "服务事项", "items_help": "各事项的申请材料：哪些可由电子证照替代，哪些仍需原件；导入时对没有设定依据或兜底性表述的材料作了标记。",
		"no_items": "还没有导入服务事项（certhub items import）。", "by_certificate": "可由电子证照替代", "f_no_legal_basis": "无设定依据", "f_catch_all": "兜底条款",
		"types_help": "各证照类型及其电子化模板：点击查看用示例数据排版的证照。", "no_types": "还没有证照类型。", "defining_authority": "定义机构",
		"template": "电子化模板", "template_default_short": "默认版式",
		"template_preview": "证照模板预览", "page_a4-portrait": "A4 纵向", "page_a4-landscape": "A4 横向", "page_card": "卡片（85.6×54 毫米）",
		"template_default": "该证照类型尚未设置模板，以下为默认版式", "template_custom": "部门提供的电子化模板",
		"template_sample": "以下为示例数据；虚线框为模板中的文字位置，二维码位置以占位框表示。", "field_name": "字段", "field_label": "标签",
		"template_how":   "设置模板：certhub types template set 证照类型代码 模板文件（YAML 或 JSON），或 PUT /api/v1/types/{code}/template；格式见 docs/templates.md。",
		"import_catalog": "导入事项目录（YAML、JSON、CSV 或 Excel）", "choose_catalog": "请选择目录文件", "import": "导入", "imported": "已导入事项", "import_refused": "目录有以下问题，未导入任何内容：",
	},
	"en": {
		"lang": "en", "other_lang": "中文", "other_lang_code": "zh",
		"brand": "e-Certificates", "wallet": "My certificates", "verify": "Verify", "logout": "Sign out",
		"login_title": "Sign in", "login_oidc": "Sign in with the unified identity platform", "demo_login": "Demo sign-in (demo only)",
		"demo_note":   "This is a demo: sign in as any demo user. A real hub signs people in only through the identity platform.",
		"demo_clerk":  "Sign in as a window clerk (demo)",
		"clerk_login": "Clerk sign-in", "clerk_token": "Clerk token", "sign_in": "Sign in",
		"my_certificates": "My certificates", "no_certificates": "No certificates yet.",
		"authority": "Issued by", "type": "Type", "identifier": "Identifier", "holder": "Holder",
		"validity": "Validity", "valid_from": "from", "valid_until": "until", "no_end": "no end date",
		"status": "Status", "fields": "Details", "seal": "Electronic seal", "seal_image": "seal",
		"seal_ok": "The electronic seal verifies", "seal_bad": "The electronic seal does NOT verify",
		"share": "Share", "share_title": "Show or share this certificate", "share_fields": "What to share",
		"share_expires": "Valid for", "share_max_views": "At most this many views (optional)", "share_purpose": "Purpose (shown as a watermark)", "purpose": "Purpose",
		"share_show_name": "Show my full name", "create_share": "Make QR code",
		"my_shares": "My shares", "no_shares": "No shares yet.", "share_link": "Link",
		"expires_at": "Expires", "views": "Views", "revoke": "Revoke", "revoked": "Revoked", "live": "Active", "ended": "Ended",
		"share_views": "Who looked", "no_views": "Nobody has looked yet.", "viewed_at": "When", "client": "Client", "network": "Network",
		"m10": "10 minutes", "h1": "1 hour", "d1": "1 day", "d7": "7 days", "d30": "30 days",
		"valid": "VALID", "invalid": "NOT VALID", "purpose_mark": "Only for", "shared_certificate": "Shared certificate",
		"share_invalid": "This share link is not valid", "share_invalid_help": "It may have expired, been revoked or used up. Ask the holder for a new QR code.",
		"share_until": "This share is valid until", "views_left": "Views left",
		"verify_title": "Verify a certificate", "scan": "Scan", "scan_help": "Hold the QR code up to the camera.", "start_camera": "Start camera", "stop_camera": "Stop camera",
		"upload": "Upload a QR image", "upload_help": "A photo or screenshot (PNG, JPEG, GIF, WebP, up to 8 MB).", "choose_file": "Choose image",
		"paste": "Paste a certificate document", "paste_help": "The certificate as a JWS.", "number": "Type an identifier",
		"check": "Verify", "result": "Result", "camera_unavailable": "The camera cannot be opened; upload an image instead.",
		"r_bad_signature": "forged signature", "r_revoked": "revoked", "r_expired": "expired", "r_suspended": "suspended",
		"r_superseded": "replaced by a newer version", "r_not_found": "not found", "r_malformed_document": "not a certificate document",
		"r_unknown_key": "unknown seal key", "r_malformed_identifier": "malformed identifier", "r_issuer_mismatch": "issuer does not match",
		"r_unknown_document": "does not match the archived document", "r_der_signature": "SM2 signature is DER-encoded (raw 64-byte r‖s expected)", "r_sm2_signature_without_z": "SM2 signature made without the Z value (user ID 1234567812345678)",
		"r_not_yet_valid": "not yet valid", "r_share_invalid": "share link not valid",
		"r_unrecognised": "not recognised: give a share QR code, a certificate document or an identifier", "r_seal_bad": "the seal does not verify",
		"upload_file": "Upload a licence file (OFD or PDF)", "upload_file_help": "The holder's OFD or PDF licence file (up to 8 MB).",
		"file_failed": "The file could not be read", "form": "File form", "file_problems": "Problems in the file",
		"r_seal_invalid": "the seal or signature is not valid", "r_digest_mismatch": "the file's content was changed", "r_not_whole_file": "the file holds content its signature does not cover",
		"r_untrusted_signer": "the signer's certificate is not trusted", "r_unknown_identifier": "the file's identifier is not known",
		"error": "Something went wrong", "back": "Back", "forbidden": "You may not open this page.", "not_found": "No such page.",
		"bad_request": "Bad request", "too_large": "The file is too large (8 MB at most).", "csrf": "The page has expired; reload it and try again.", "unavailable": "A service the hub depends on is unavailable; try again shortly.",
		"download_ofd": "Download OFD", "download_pdf": "Download PDF", "downloads": "Licence file",
		"file_unavailable": "This licence file cannot be made in this format.", "share_file_invalid": "This certificate is not valid now; no file is offered.",
		"share_pdf_help":  "The PDF holds only what is shared here, watermarked with its purpose. A download counts as a view.",
		"current_version": "Current version", "upload_failed": "The image could not be read",
		"accesses": "Who used my certificates", "accesses_help": "Every lookup or download of your certificates by a department (with its purpose and case), and every view of your shares.", "no_accesses": "No use recorded yet.",
		"who": "By", "what": "Action", "case": "Case",
		"a_lookup": "lookup", "a_read": "read", "a_document": "document download", "a_share_view": "share viewed", "a_share_create": "share created", "a_clerk_verify": "verified at a service window",
		"a_issue": "issued", "a_revise": "revised", "a_suspend": "suspended", "a_reinstate": "reinstated", "a_revoke": "revoked", "masked_note": "(partly hidden)", "signed_in_as": "Signed in as",
		"admin_login": "Administrator sign-in", "admin_token": "Admin token", "login_failed": "The token is not valid or was revoked.",
		"reports": "Usage statistics", "reports_help": "Department lookups, matches, window verifications and share views, and issuances and status changes, by day, month, quarter or year.",
		"period": "Period", "p_day": "Daily", "p_month": "Monthly", "p_quarter": "Quarterly", "p_year": "Yearly", "from": "From", "to": "To",
		"show": "Show", "download_csv": "Download CSV", "total": "Total", "by_actor": "Heaviest users", "no_usage": "No use in this period.", "count": "Count",
		"u_lookup": "lookups", "u_document": "documents", "u_match": "matches", "u_verification": "window checks", "u_share_view": "share views",
		"u_issuance": "issuances", "u_revision": "revisions", "u_lifecycle": "status changes",
		"agreements": "Sharing agreements", "agreements_help": "Which certificate types and fields each department system may receive, for which purposes, until when and how often. Requests awaiting a decision come first. Suspend an agreement while its office is under investigation and resume it afterwards; withdrawing ends it for good.",
		"no_agreements": "No sharing agreements yet.", "consumer": "Department system", "types": "Certificate types", "purposes": "Purposes",
		"rate": "Calls a minute", "state": "State", "document_granted": "with the document", "reason": "Reason",
		"approve": "Approve", "reject": "Reject", "withdraw": "Withdraw", "suspend": "Suspend", "resume": "Resume", "holder_name": "holder name",
		"s_requested": "awaiting approval", "s_approved": "approved (not yet valid)", "s_active": "active", "s_expired": "expired", "s_rejected": "rejected", "s_suspended": "suspended", "s_withdrawn": "withdrawn",
		"a_match": "match", "a_resolve": "checked for an application",
		"annotated": "Annotated copy", "annotated_help": "Make a copy for one purpose: the purpose and expiry are printed as a watermark on every page, and verification refuses the copy once it expires or is revoked.",
		"ann_purpose": "Purpose", "ann_expires_at": "Valid until", "create_annotated": "Make annotated copy",
		"ann_purpose_problem": "give one purpose (100 characters at most, on one line).", "ann_expires_at_problem": "choose a date from today to 90 days ahead.",
		"my_annotated": "My annotated copies", "no_annotated": "No annotated copies yet.",
		"ann_valid": "valid", "ann_expired": "expired", "ann_revoked": "revoked",
		"annotated_gone": "This annotated copy can no longer be used.", "r_annotated_copy_revoked": "the annotated copy was revoked", "r_annotated_copy_expired": "the annotated copy has expired", "r_annotated_copy_unknown": "no such annotated copy",
		"a_annotate": "annotated copy made", "a_annotated_file": "annotated copy downloaded", "a_annotated_revoke": "annotated copy revoked",
		"bring": "Before you go: what must you still bring?", "bring_help": "Pick the service you are applying for and see which materials your e-certificates already replace.", "service_item": "Service", "check_item": "Check",
		"bring_summary_1": "It needs", "bring_summary_2": "materials;", "bring_summary_3": "of them are replaced by your e-certificates.",
		"o_satisfied": "replaced by an e-certificate", "o_not_found": "bring it", "o_provide": "prepare it", "o_expired": "certificate expired", "o_revoked": "certificate revoked",
		"o_suspended": "certificate suspended", "o_not_permitted": "the office checks it", "original_still": "bring the original too",
		"materials_report": "Materials avoided", "materials_help": "Per service item and department: cases, materials required, materials replaced by e-certificates, the share avoided, and the materials a missing sharing agreement kept from being avoided.",
		"item": "Service item", "department": "Department", "cases": "Cases", "required": "Required", "avoided": "Avoided", "avoided_share": "Avoided share", "avoidable_with_agreement": "Avoidable with an agreement",
		"avoidable_help": "“Avoidable with an agreement” counts certificate materials a department system could not fetch because it has no sharing agreement for them: they are not in the avoided share, and an agreement would spare them.", "no_resolutions": "No cases in this period.",
		"service_items": "Service items", "items_help": "Each item's materials: which e-certificates replace, which still need the original; materials without a legal basis or worded as a catch-all were flagged on import.",
		"no_items": "No service items imported yet (certhub items import).", "by_certificate": "replaced by e-certificates", "f_no_legal_basis": "no legal basis", "f_catch_all": "catch-all clause",
		"types_help": "Each certificate type and its licence template: open one to see a licence laid out with sample values.", "no_types": "No certificate types yet.", "defining_authority": "Defining authority",
		"template": "Template", "template_default_short": "default layout",
		"template_preview": "Licence template preview", "page_a4-portrait": "A4 portrait", "page_a4-landscape": "A4 landscape", "page_card": "card (85.6×54 mm)",
		"template_default": "This type has no template of its own; this is the default layout", "template_custom": "The department's template",
		"template_sample": "Sample values; dashed boxes are where the template puts text, the QR code's place is a placeholder.", "field_name": "Field", "field_label": "Label",
		"template_how":   "To set a template: certhub types template set TYPE-CODE FILE (YAML or JSON), or PUT /api/v1/types/{code}/template; the format is in docs/templates.md.",
		"import_catalog": "Import a catalog (YAML, JSON, CSV or Excel)", "choose_catalog": "Choose a catalog file", "import": "Import", "imported": "Items imported", "import_refused": "The catalog has these problems; nothing was imported:",
	},
}

// langOf picks the page language.
func langOf(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "zh" {
		return l
	}
	if c, err := r.Cookie("lang"); err == nil && (c.Value == "en" || c.Value == "zh") {
		return c.Value
	}
	al := strings.ToLower(r.Header.Get("Accept-Language"))
	if strings.HasPrefix(al, "en") {
		return "en"
	}
	return "zh"
}

// T translates a message key; an unknown key shows itself, so a missing
// translation is visible rather than blank.
func T(lang, key string) string {
	if m, ok := messages[lang][key]; ok {
		return m
	}
	if m, ok := messages["zh"][key]; ok {
		return m
	}
	return key
}
