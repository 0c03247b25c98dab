"""The medical-information tests use the browser, page and live server of tests/conftest.py."""
