"""The terminal side of fujo (資格確認端末): the shared-folder file interface that receipt
computers (レセコン) and electronic chart systems already speak, plus the vendor acceptance-test
kit (運用テスト). See docs/TERMINAL.md."""
