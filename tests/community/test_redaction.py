"""The community secrets (Naver NID cookies, Gangnamunni token, dump URLs' passwords) are
masked by the shared redaction wherever text leaves a process."""
from __future__ import annotations

from services.collector.connectors.community import CommunityError
from shared.redact import redact, redact_text, redact_url


def test_cookie_header_and_token_are_masked():
    line = "GET /cafe Cookie: NID_AUT=aut-secret-1; NID_SES=ses-secret-2; token=gn-secret-3"
    masked = redact_text(line)
    assert "aut-secret-1" not in masked and "ses-secret-2" not in masked and "gn-secret-3" not in masked
    assert masked.count("***") == 3


def test_start_params_mask_the_secret_keys():
    params = {"cafe_id": 10001, "naver_cookies": "NID_AUT=a; NID_SES=b", "token": "gn-secret", "limit": 5}
    assert redact(params) == {"cafe_id": 10001, "naver_cookies": "***", "token": "***", "limit": 5}


def test_dump_urls_lose_their_password():
    for url in ("postgresql://analyst:pw-1@db.example/warehouse", "mysql+pymysql://root:pw-1@127.0.0.1/test"):
        assert "pw-1" not in redact_url(url) and "***" in redact_url(url)


def test_connector_errors_are_redacted():
    error = CommunityError("naver article: HTTP 401 with Cookie NID_SES=ses-secret-9")
    assert "ses-secret-9" not in str(error)
