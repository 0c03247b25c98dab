"""医療扶助のオンライン資格確認導入の補助金 (introduction subsidy): rules per fiscal year as data
(``rules/<year>.toml``), the estimate in :mod:`fujo.core.subsidy`."""
