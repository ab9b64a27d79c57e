"""The babitalk, gangnamunni and naver sources in the collector: start bodies, tasks run by
real Dramatiq worker threads against the sandbox process, items stored once, labels,
statistics, and secrets that never come back out."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from services.collector.models import CollectedItemRow, Task, db
from tests.support.collector import API, start, wait_status
from tests.support.community import GANGNAMUNNI_TOKEN, NID_AUT, NID_SES, SECRET_SANDBOX_ENV
from tests.support.waiting import wait_for


@pytest.fixture
def sandbox_env() -> dict:
    return SECRET_SANDBOX_ENV


RULES = {"model": "keyword", "labels": {"swelling": ["붓기"], "price": ["가격", "비쌌"]}}


def week_ago() -> str:
    return (date.today() - timedelta(days=7)).isoformat()


def stored_items(app, source: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CollectedItemRow)
                                 .where(CollectedItemRow.source == source))


@pytest.mark.parametrize("source, body, field", [
    ("babitalk", {"target_date": "2026-01-01", "categories": ["reviews", "gossip"]}, "categories"),
    ("babitalk", {"categories": ["reviews"]}, "target_date"),
    ("babitalk", {"target_date": "2026-01-01", "limit": -1}, "limit"),   # 0 is "no limit" (the guide's body)
    ("gangnamunni", {"target_date": "2026-01-01", "categories": ["plastic"]}, "categories"),
    ("naver", {"target_date": "2026-01-01"}, "cafe_id"),
    ("naver", {"cafe_id": 10001, "menu_id": "288,abc"}, "menu_id"),
    ("naver", {"cafe_id": 10001, "per_page": 500}, "per_page"),
    ("babitalk", {"target_date": "2026-01-01", "rules": {"model": "regex", "labels": {"evil": r"(a*)\1"}}}, "rules"),
    ("babitalk", {"target_date": "2026-01-01", "rules": {"model": "fuzzy", "labels": {"a": ["b"]}}}, "rules"),
    ("gangnamunni", {"target_date": "2026-01-01", "shoe_size": 43}, "shoe_size"),
])
def test_bad_start_bodies_are_422_naming_the_field(client, source, body, field):
    response = client.post(f"{API}/{source}/start", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert field in response.json["message"]


def test_hostile_pattern_is_refused_with_its_label(client):
    body = {"target_date": "2026-01-01", "rules": {"model": "regex", "labels": {
        "ok": "붓기", "bomb": "((a{100}){100}){100}"}}}
    response = client.post(f"{API}/babitalk/start", json=body)
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]["rules"]) == ["rules.labels.bomb"]


def test_sources_are_listed_with_their_params(client):
    sources = {s["name"]: s for s in client.get(f"{API}/sources").json}
    assert sources["babitalk"]["params"]["categories"]["enum"] == ["reviews", "talks", "event_ask_memos"]
    assert sources["gangnamunni"]["secret_params"] == ["token"]
    assert sources["naver"]["secret_params"] == ["naver_cookies"]
    assert {"target_date", "limit", "rules"} <= set(sources["naver"]["params"])


def test_babitalk_task_collects_labels_and_never_duplicates_on_a_rerun(community_app, client, worker):
    worker()
    body = {"target_date": week_ago(), "categories": ["reviews", "talks"], "limit": 24, "rules": RULES}
    first = wait_status(client, start(client, "babitalk", **body), "completed")

    summary = first["result_summary"]
    assert summary["status"] == "success"
    assert summary["category_reviews_count"] >= 24 and summary["total_reviews"] == 24
    assert summary["total_posts"] == 24 and summary["total_comments"] > 0
    assert summary["total_items"] == summary["total_reviews"] + summary["total_posts"] + summary["total_comments"]
    assert 0 < summary["labeled_items"] <= summary["total_items"]
    assert set(summary["rate_of_label"]) == {"swelling", "price"}
    assert 0 < summary["rate_of_label"]["swelling"] < 1 and summary["unique_authors"] > 1
    assert first["rows_written"] == summary["total_items"] and first["rows_rejected"] == 0
    stored = stored_items(community_app, "babitalk")
    assert stored == summary["total_items"]

    second = wait_status(client, start(client, "babitalk", **body), "completed")
    assert second["result_summary"]["total_items"] == summary["total_items"]
    assert stored_items(community_app, "babitalk") == stored        # upserted, not duplicated
    sample = client.get(f"{API}/task/{second['id']}/sample?size=5").json
    assert sample["count"] == stored and len(sample["data"]) == 5


def test_sample_while_the_task_runs(community_app, client, worker):
    community_app.config["COLLECTOR_PACING_BABITALK"] = 0.2     # slow enough to be watched mid-way
    worker()
    task_id = start(client, "babitalk", target_date=(date.today() - timedelta(days=30)).isoformat(),
                    categories=["reviews", "talks", "event_ask_memos"])

    def sample_while_running():
        sample = client.get(f"{API}/task/{task_id}/sample?size=3").json
        return sample if sample["status"] == "running" and sample["count"] >= 3 else None

    sample = wait_for(sample_while_running, timeout=60, what="items sampled while running")
    assert len(sample["data"]) == 3
    assert all(item["source"] == "babitalk" and item["external_id"] for item in sample["data"])
    assert client.delete(f"{API}/task/{task_id}").status_code == 200
    final = wait_status(client, task_id, {"cancelled", "completed"})
    assert final["status"] == "cancelled"
    kept = client.get(f"{API}/task/{task_id}/sample").json["count"]
    assert kept >= sample["count"] and kept == final["rows_written"]   # what was in hand when cancelled is kept


def test_malformed_record_is_counted_as_rejected_and_logged(community_app, client, worker):
    community_app.sandbox.faults("babitalk", malformed=True)
    worker()
    task = wait_status(client, start(client, "babitalk", target_date=week_ago(), categories=["reviews"], limit=5),
                       "completed")
    assert task["rows_rejected"] == 1 and task["result_summary"]["skipped"] == 1
    logs = client.get(f"{API}/task/{task['id']}/logs?per_page=100").json["data"]
    assert any("skipped malformed record" in line["message"] for line in logs)


def test_429_is_waited_out_inside_a_task(community_app, client, worker):
    community_app.sandbox.faults("babitalk", rate_limit=2, retry_after=1)
    worker()
    task = wait_status(client, start(client, "babitalk", target_date=week_ago(), categories=["reviews"], limit=3),
                       "completed")
    assert task["result_summary"]["total_reviews"] == 3
    assert community_app.sandbox.served("babitalk")["served"]["rate_limited"] == 2


def test_gangnamunni_token_is_used_but_never_shown(community_app, client, worker, tmp_path):
    worker()
    task_id = start(client, "gangnamunni", target_date=week_ago(), categories=["free_chat", "review"], limit=4,
                    save_as_reviews=True, token=GANGNAMUNNI_TOKEN)
    task = wait_status(client, task_id, "completed")
    assert task["result_summary"]["total_reviews"] == 4 and task["result_summary"]["total_posts"] == 4
    assert task["params"]["token"] == "***"
    _assert_secret_nowhere(community_app, client, task_id, [GANGNAMUNNI_TOKEN], tmp_path)


def test_gangnamunni_bad_token_fails_the_task_with_a_clear_error(community_app, client, worker, tmp_path):
    worker()
    wrong = "gn-wrong-token-3d9a"
    task = wait_status(client, start(client, "gangnamunni", target_date=week_ago(), token=wrong), "failed")
    assert "HTTP 401" in task["error"] and "token" in task["error"]
    _assert_secret_nowhere(community_app, client, task["id"], [wrong], tmp_path)


def test_naver_cookies_open_member_only_articles_and_are_never_shown(community_app, client, worker, tmp_path):
    worker()
    cookies = f"NID_AUT={NID_AUT}; NID_SES={NID_SES}"
    task_id = start(client, "naver", cafe_id=20002, target_date=week_ago(), menu_id="288,289", per_page=10,
                    limit=3, naver_cookies=cookies)
    task = wait_status(client, task_id, "completed")
    assert task["result_summary"]["category_menu 288_count"] >= 3
    assert task["result_summary"]["total_posts"] == 6
    assert task["params"]["naver_cookies"] == "***"
    _assert_secret_nowhere(community_app, client, task_id, [NID_AUT, NID_SES], tmp_path)

    refused = wait_status(client, start(client, "naver", cafe_id=20002, target_date=week_ago()), "failed")
    assert "HTTP 401" in refused["error"] and "0004" in refused["error"]


def _assert_secret_nowhere(app, client, task_id, secrets, tmp_path):
    outputs = [client.get(f"{API}/task/{task_id}").get_data(as_text=True),
               client.get(f"{API}/tasks").get_data(as_text=True),
               client.get(f"{API}/task/{task_id}/logs?per_page=100").get_data(as_text=True),
               client.get(f"{API}/task/{task_id}/export?format=jsonl").get_data(as_text=True)]
    with app.app_context():
        task = db.session.get(Task, task_id)
        outputs += [str(task.params), str(task.error), str(task.result_summary), str(task.secrets_sealed)]
    log_files = list((tmp_path / "log").glob("*.log"))
    assert log_files, "the collector writes its log file under LOG_DIR"
    outputs += [path.read_text(errors="replace") for path in log_files]
    for secret in secrets:
        for output in outputs:
            assert secret not in output


def test_rules_may_come_as_json_text_from_a_form(community_app, client, worker):
    worker()
    task = wait_status(client, start(client, "babitalk", target_date=week_ago(), categories=["reviews"], limit=5,
                                     rules='{"model": "keyword", "labels": {"swelling": ["붓기"]}}'), "completed")
    assert set(task["result_summary"]["rate_of_label"]) == {"swelling"}
    refused = client.post(f"{API}/babitalk/start", json={"target_date": week_ago(), "rules": "{not json"})
    assert refused.status_code == 422 and "rules" in refused.json["errors"]["json"]


def test_dashboard_sample_view_of_a_task(community_app, client, worker):
    worker()
    task = wait_status(client, start(client, "babitalk", target_date=week_ago(), categories=["reviews"], limit=8,
                                     rules=RULES), "completed")
    page = client.get(f"/tasks/{task['id']}/sample?size=5")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.count("data-external-id=") == 5 and "8 items collected so far" in html
    assert 'http-equiv="refresh"' not in html            # finished: no more reloading
    assert f"/task/{task['id']}/export?format=csv" in html
    assert client.get("/tasks/no-such-task/sample").status_code == 404
    dashboard = client.get("/").get_data(as_text=True)
    assert 'data-source="babitalk"' in dashboard and 'name="rules"' in dashboard and 'name="naver_cookies"' in dashboard
