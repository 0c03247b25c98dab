"""Code values of the national interface (別紙5-1 業務コード as quoted by public implementations)."""
from __future__ import annotations

# QualificationValidity 資格有効性
VALID = "1"            # 有効
INVALID = "2"          # 無効
INVALID_NEWER = "3"    # 無効（新しい資格あり）
NO_QUALIFICATION = "4"  # 該当資格なし
MULTIPLE = "5"         # 複数該当 (insurance only)
VALID_UNREGISTERED = "6"  # 有効（未登録）: 医療扶助 only, the 未委託 / not-yet-registered case

VALIDITY_TEXT = {
    VALID: "有効", INVALID: "無効", INVALID_NEWER: "無効（新しい資格あり）",
    NO_QUALIFICATION: "該当資格なし", MULTIPLE: "複数該当", VALID_UNREGISTERED: "有効（未登録）",
}

CARD_CLASS_MEDICAL_ASSISTANCE = "A1"  # InsuredCardClassification A1 = 医療扶助
INSURED_CARD_CLASSES = {"01": "被保険者証（健康保険）", "02": "被保険者証（国民健康保険）",
                        "03": "被保険者証（後期高齢者医療）", "A1": "医療扶助"}

REFERENCE_CARD = "1"     # ReferenceClassification: マイナンバーカード
REFERENCE_NUMBERS = "2"  # 被保険者証/医療券等の番号

SEX = {"1": "男", "2": "女", "3": "未設定"}
TICKET_TYPES = {"01": "医療券", "02": "調剤券"}
TREATMENT_TYPES = {"01": "入院", "02": "入院外", "03": "歯科", "04": "調剤", "05": "訪問看護"}
SINGLE_OR_COMBINED = {"01": "単独", "02": "併用"}
PRESENCE = {"01": "あり", "02": "なし"}
REASON_OF_LOSS = {"01": "死亡", "02": "生活保護受給開始", "03": "医療保険等の資格取得", "99": "その他"}
CONSENT_FLAGS = {"0": "なし", "1": "あり", "2": "期限切れ", "3": "取得困難"}
DESIGNATED_MATCH, DESIGNATED_MISMATCH = "0", "1"  # DesignatedMedicalInstitutionFlag
