"""Code values of the national interface (別紙5-1 業務コード as quoted by public implementations)."""

from __future__ import annotations

# QualificationValidity 資格有効性
VALID = "1"  # 有効
INVALID = "2"  # 無効
INVALID_NEWER = "3"  # 無効（新しい資格あり）
NO_QUALIFICATION = "4"  # 該当資格なし
MULTIPLE = "5"  # 複数該当 (insurance only)
VALID_UNREGISTERED = "6"  # 有効（未登録）: 医療扶助 only, the 未委託 / not-yet-registered case

VALIDITY_TEXT = {
    VALID: "有効",
    INVALID: "無効",
    INVALID_NEWER: "無効（新しい資格あり）",
    NO_QUALIFICATION: "該当資格なし",
    MULTIPLE: "複数該当",
    VALID_UNREGISTERED: "有効（未登録）",
}

CARD_CLASS_MEDICAL_ASSISTANCE = "A1"  # InsuredCardClassification A1 = 医療扶助
# InsuredCardClassification 被保険者証区分: the KIND OF CARD, not the kind of insurer (whether a
# person is in 健保/国保/後期高齢 follows from the 保険者番号: numbers.insurer_kind).
INSURED_CARD_CLASSES = {
    "01": "被保険者証（一般）",
    "02": "被保険者証（退職）",
    "03": "短期被保険者証（一般）",
    "04": "短期被保険者証（退職）",
    "05": "被保険者資格証明書",
    "06": "特例退職被保険者証",
    "07": "自衛官診療証",
    "A1": "医療扶助",
}

REFERENCE_CARD = "1"  # ReferenceClassification: マイナンバーカード
REFERENCE_NUMBERS = "2"  # 被保険者証/医療券等の番号

SEX = {"1": "男", "2": "女", "3": "未設定"}
TICKET_TYPES = {"01": "医療券", "02": "調剤券"}
TREATMENT_TYPES = {"01": "入院", "02": "入院外", "03": "歯科", "04": "調剤", "05": "訪問看護"}
SINGLE_OR_COMBINED = {"01": "単独", "02": "併用"}
PRESENCE = {"01": "あり", "02": "なし"}
REASON_OF_LOSS = {
    "01": "死亡",
    "02": "生活保護受給開始",
    "03": "医療保険等の資格取得",
    "99": "その他",
}  # insurance only
# 保護停止・廃止: the welfare office's own table (not ReasonOfLoss, whose 02 生活保護受給開始 makes no sense for
# ending 保護), with the office's reason text beside it (recipients.disqualification_reason).
DISQUALIFICATION_KINDS = {"1": "停止", "2": "廃止"}
CONSENT_FLAGS = {"0": "なし", "1": "あり", "2": "期限切れ", "3": "取得困難"}
DESIGNATED_MATCH, DESIGNATED_MISMATCH = "0", "1"  # DesignatedMedicalInstitutionFlag

# Health-insurance details (issue 7), as quoted by public implementations of 別紙5-1
PERSONAL_FAMILY = {"1": "本人", "2": "家族"}  # PersonalFamilyClassification
CONTRIBUTION_RATIOS = {"010": "1割", "020": "2割", "030": "3割"}  # InsuredPartialContributionRatio (3 digits)
PRESCHOOL = {"1": "未就学"}  # PreschoolClassification
LIMIT_CERTIFICATE_CLASSES = {
    "01": "限度額適用認定証",
    "02": "限度額適用・標準負担額減額認定証",
    "03": "標準負担額減額認定証",
}  # LimitApplicationCertificateClassification
LIMIT_CERTIFICATE_BRACKETS = {  # LimitApplicationCertificateClassificationFlag 適用区分 (A: under 70, B: 70 and over)
    "A01": "ア",
    "A02": "イ",
    "A03": "ウ",
    "A04": "エ",
    "A05": "オ",
    "A06": "オ（境）",
    "B01": "現役並みⅢ",
    "B02": "現役並みⅡ",
    "B03": "現役並みⅠ",
    "B04": "一般",
    "B05": "低所得Ⅱ",
    "B06": "低所得Ⅰ",
    "B07": "低所得Ⅰ（老福）",
    "B08": "低所得Ⅰ（境）",
    "B09": "一般Ⅱ",
    "B10": "一般Ⅰ",
}
SPECIFIC_DISEASES = {
    "1": "人工透析を必要とする慢性腎不全",
    "2": "先天性血液凝固因子障害（第VIII因子、第IX因子）",
    "3": "血液凝固因子製剤の投与に起因するHIV感染症",
}  # SpecificDiseasesDiseaseCategory
LIMIT_CONSENT = {"0": "未同意", "1": "同意"}  # LimitApplicationCertificateRelatedConsFlg
