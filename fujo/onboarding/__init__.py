"""Each facility's introduction checklist (導入手順: 見積り … 運用開始), issue 15."""
