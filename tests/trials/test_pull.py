"""`flask --app services.trials pull` against the sandbox running as a real process."""
import pytest
import requests

from deploy.sandbox.odcloud import generate_trials
from tests.support.trials import trial


@pytest.fixture
def sandbox_env():
    return {"SANDBOX_ODCLOUD_TRIALS": 145, "SANDBOX_SEED": 7}


def test_pull_loads_every_page_then_tracks_changes_and_withdrawals(app, client, runner, sandbox):
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api", ODCLOUD_PER_PAGE=40)

    result = runner.invoke(args=["pull", "--snapshot-id", "day-1"])
    assert result.exit_code == 0, result.output
    assert "received 145, created 145" in result.output
    assert client.get("/trials").json["count"] == 145
    expected = generate_trials(145, 7)[17]
    stored = client.get(f"/trials/{expected['과제번호']}").json
    assert stored["title"] == expected["과제명"]
    assert stored["institution"] == expected["연구책임기관"]

    again = runner.invoke(args=["pull", "--snapshot-id", "day-2"])
    assert "created 0, updated 0, unchanged 145" in again.output

    revision = requests.post(sandbox.url + "/_sandbox/odcloud/revise",
                             json={"change": 4, "drop": 3, "add": 2}, timeout=5).json()
    third = runner.invoke(args=["pull", "--snapshot-id", "day-3"])
    assert third.exit_code == 0, third.output
    assert "received 144, created 2, updated 4, unchanged 138, restored 0, withdrawn 3" in third.output
    for trial_id in revision["dropped"]:
        assert client.get(f"/trials/{trial_id}").json["withdrawn_at"] is not None
    recent = {t["trial_id"] for t in client.get("/list?per_page=100").json["data"]}
    assert set(revision["changed"]) | set(revision["added"]) <= recent
    history = client.get(f"/trials/{revision['changed'][0]}/history").json["data"][0]
    assert history["snapshot_id"] == "day-3"
    assert {c["field"] for c in history["changes"]} >= {"target_subjects"}


def test_pull_with_a_wrong_key_fails_and_changes_nothing(app, client, runner, sandbox, put_batch):
    put_batch([trial("KEEP")])
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api", ODCLOUD_SERVICE_KEY="not-registered")
    result = runner.invoke(args=["pull"])
    assert result.exit_code == 1
    assert "code -4" in result.output
    assert "not-registered" not in result.output
    assert client.get("/trials").json["count"] == 1


def test_pull_stops_on_quota_exceeded(app, runner, sandbox):
    requests.post(sandbox.url + "/_sandbox/odcloud/mode", json={"quota_exceeded": True}, timeout=5)
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api")
    result = runner.invoke(args=["pull"])
    assert result.exit_code == 1
    assert "code -10" in result.output


def test_pull_reports_each_page_plainly_off_a_terminal_and_as_a_bar_on_one(app, runner, sandbox):
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api", ODCLOUD_PER_PAGE=40)
    plain = runner.invoke(args=["pull", "--snapshot-id", "plain"])
    assert plain.exit_code == 0, plain.output
    assert [line for line in plain.stderr.splitlines() if line.startswith("page ")] == [
        "page 1/4: 40/145 trials received", "page 2/4: 80/145 trials received",
        "page 3/4: 120/145 trials received", "page 4/4: 145/145 trials received"]

    bar = runner.invoke(args=["pull", "--snapshot-id", "bar"], env={"TTY_COMPATIBLE": "1"})
    assert bar.exit_code == 0, bar.output
    assert "page 1/4:" not in bar.stderr
    assert "145/145" in bar.stderr and "trials, page 4/4" in bar.stderr and "\x1b[" in bar.stderr
    assert "received 145, created 0, updated 0, unchanged 145" in bar.stdout
