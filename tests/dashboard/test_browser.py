"""The dashboard in a real headless Chromium against a live server over demo data: every
page shows the store's and the registry's real data; the user page, promotion and rollback,
file upload, training with live progress and the login work by clicking."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import ADMIN_KEY, READ_KEY, DemoServer

HEADERS = {"X-API-Key": ADMIN_KEY}


def shot(page: Any, artefacts: Path, name: str) -> None:
    path = artefacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def api(server: DemoServer, path: str) -> Any:
    response = httpx.get(server.base + path, headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_login_with_a_key(browser: Any, demo_server: DemoServer, artefacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.goto(demo_server.base + "/dashboard/models")
    assert page.url.startswith(demo_server.base + "/dashboard/login")  # redirected
    shot(page, artefacts, "login")

    page.fill("input[name=key]", "not-a-valid-key")
    page.click("form button[type=submit]")
    assert "not valid" in page.inner_text(".flash.error")

    page.fill("input[name=key]", READ_KEY)  # a real key, but not an admin one
    page.click("form button[type=submit]")
    assert "admin" in page.inner_text(".flash.error")

    page.fill("input[name=key]", ADMIN_KEY)
    page.click("form button[type=submit]")
    page.wait_for_url(demo_server.base + "/dashboard/models")  # back where it started
    assert page.inner_text("h1") == "Models"
    cookie = next(c for c in context.cookies() if c["name"] == "recserve_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.click("text=Log out")
    page.goto(demo_server.base + "/")
    assert "/dashboard/login" in page.url
    context.close()


def test_overview_shows_the_store(page: Any, demo_server: DemoServer, artefacts: Path) -> None:
    page.goto(demo_server.base + "/")
    counts = demo_server.counts()
    for name in ("items", "users", "events", "relations"):
        shown = page.inner_text(f'.stat[data-count="{name}"] .value')
        assert number(shown) == counts[name], name
    # one bar per hour over the last 7 days of data, some of them non-empty
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() == 7 * 24
    heights = [float(h) for h in bars.evaluate_all("els => els.map(e => e.getAttribute('height'))")]
    assert sum(h > 0 for h in heights) > 10
    store = demo_server.store()
    try:
        newest_user = store.feedback.columns().user_ids[-1]
    finally:
        store.close()
    assert page.inner_text("#recent-events tbody tr:first-child td:nth-child(2)") == newest_user
    assert searched_champion(demo_server) in page.inner_text("#served")
    shot(page, artefacts, "overview")


def test_items_and_users_search(page: Any, demo_server: DemoServer, artefacts: Path) -> None:
    store = demo_server.store()
    try:
        item = store.items.get("b000001")
    finally:
        store.close()
    assert item is not None
    page.goto(demo_server.base + "/dashboard/items")
    page.fill("input[name=q]", item["title"].split()[-1].lower())
    page.click("form.search button")
    assert item["title"] in page.inner_text("#items")
    shot(page, artefacts, "items")

    page.goto(demo_server.base + "/dashboard/users")
    assert page.locator("#users tbody tr").count() == 50  # a full first page
    page.fill("input[name=q]", "USER0004")  # case-insensitive
    page.click("form.search button")
    ids = page.locator("#users tbody tr td:first-child").all_inner_texts()
    assert ids == [f"user{n:05d}" for n in range(40, 50)]
    shot(page, artefacts, "users")


def test_user_page_by_clicking(page: Any, demo_server: DemoServer, artefacts: Path) -> None:
    page.goto(demo_server.base + "/dashboard/users?q=user00007")
    page.click("#users a:text('user00007')")
    page.wait_for_url("**/dashboard/users/user00007")
    assert page.inner_text("#user-id") == "user00007"

    events = api(demo_server, "/v1/users/user00007/feedback?limit=50")["data"]
    shown = page.locator("#history tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.itemId)"
    )
    assert shown == [e["item_id"] for e in events]

    # the same recommendations, with explanations, as the API gives
    expected = api(demo_server, "/v1/users/user00007/recommendations?n=10&explain=true")
    panel = page.locator("#panel-recommended")
    assert panel.is_visible()
    listed = panel.locator("li.rec").evaluate_all("els => els.map(e => e.dataset.itemId)")
    assert listed == [i["item_id"] for i in expected["items"]]
    assert expected["model"] in panel.locator("h2").inner_text()
    assert panel.locator(".reason").count() == len(expected["items"])
    shot(page, artefacts, "user")

    page.click(".tab[data-tab=popular]")
    assert page.locator("#panel-popular").is_visible()
    assert not panel.is_visible()
    page.click(".tab[data-tab=people_you_may_know]")
    people = page.locator("#panel-people_you_may_know a")
    assert people.count() > 0
    other = people.first.inner_text()
    shot(page, artefacts, "user-people")
    people.first.click()
    page.wait_for_url(f"**/dashboard/users/{other}")
    assert page.inner_text("#user-id") == other


def searched_champion(demo_server: DemoServer) -> str:
    """The recommended scenario's champion: whichever model the demo's search chose."""
    scenarios = {s["scenario"]: s for s in api(demo_server, "/v1/scenarios")["data"]}
    return str(scenarios["recommended"]["champion"])


def champion(page: Any, scenario: str) -> str:
    return page.inner_text(f'#champions tr[data-scenario="{scenario}"] td.champion').strip()


def test_promote_and_roll_back(page: Any, demo_server: DemoServer, artefacts: Path) -> None:
    page.goto(demo_server.base + "/dashboard/models")
    searched = searched_champion(demo_server)
    assert champion(page, "recommended") == searched
    row = page.locator(f'#versions tr[data-ref="{searched}"]')
    manifest = api(demo_server, f"/v1/models/{searched}")
    assert f"{manifest['metrics']['ndcg@10']:.4f}" in row.inner_text()
    assert page.locator("#leaderboard svg rect.bar").count() >= 5
    shot(page, artefacts, "models")

    knn = page.locator('#versions tr[data-ref="item_knn/v0001"]')
    knn.locator("select[name=scenario]").select_option("recommended")
    knn.locator("button").click()
    page.wait_for_selector(".flash.ok")
    assert "item_knn/v0001 is now the recommended champion" in page.inner_text(".flash.ok")
    assert champion(page, "recommended") == "item_knn/v0001"
    scenarios = {s["scenario"]: s for s in api(demo_server, "/v1/scenarios")["data"]}
    assert scenarios["recommended"]["serving"] == "item_knn/v0001"
    shot(page, artefacts, "models-promoted")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#champions tr[data-scenario="recommended"] button').click()
    page.wait_for_selector(".flash.ok")
    assert champion(page, "recommended") == searched
    scenarios = {s["scenario"]: s for s in api(demo_server, "/v1/scenarios")["data"]}
    assert scenarios["recommended"]["serving"] == searched


def test_upload_changes_the_counts(
    page: Any, demo_server: DemoServer, artefacts: Path, tmp_path: Path
) -> None:
    before = demo_server.counts()
    good = tmp_path / "new-events.csv"
    good.write_text(
        "user_id,item_id,type,timestamp\n"
        "dash-user-1,b000001,like,1719700000\n"
        "dash-user-1,b000002,view,1719700060\n"
        "dash-user-2,b000001,purchase,1719700120\n"
    )
    page.goto(demo_server.base + "/dashboard/import")
    assert number(page.inner_text('#counts [data-count="events"]')) == before["events"]
    page.set_input_files("input[name=file]", str(good))
    page.click("#import-form button")
    page.wait_for_selector("#import-result")
    assert "3 events" in page.inner_text("#import-result")
    assert number(page.inner_text('#counts [data-count="events"]')) == before["events"] + 3
    assert number(page.inner_text('#counts [data-count="users"]')) == before["users"] + 2
    assert demo_server.counts()["events"] == before["events"] + 3
    shot(page, artefacts, "import")

    bad = tmp_path / "bad-events.jsonl"
    bad.write_text(
        '{"user_id": "dash-user-3", "item_id": "b000001", "type": "like"}\n'
        '{"user_id": "dash-user-3", "item_id": "b000002", "type": "teleport"}\n'
    )
    page.set_input_files("input[name=file]", str(bad))
    page.click("#import-form button")
    page.wait_for_selector("#import-error")
    problems = page.inner_text("#import-error")
    assert "nothing imported" in problems
    assert "bad-events.jsonl line 2" in problems and "teleport" in problems
    assert demo_server.counts()["events"] == before["events"] + 3  # nothing written
    shot(page, artefacts, "import-error")


def test_jobs_page_shows_the_demo_training(
    page: Any, demo_server: DemoServer, artefacts: Path
) -> None:
    page.goto(demo_server.base + "/dashboard/jobs")
    jobs = api(demo_server, "/v1/jobs")["data"]
    demo = next(j for j in jobs if j["trigger"] == "cli")
    row = page.locator(f'#jobs tr.job[data-job-id="{demo["job_id"]}"]')
    assert row.get_attribute("data-status") == "succeeded"
    ndcg = demo["results"]["models"]["item_knn"]["metrics"]["ndcg@10"]
    assert f"ndcg@10 {ndcg:.4f}" in row.inner_text()
    trials = demo["results"]["search"]["trials"]
    assert f"search: {len(trials)} trials" in row.inner_text()
    shot(page, artefacts, "jobs")


def test_job_page_shows_the_search_trials(
    page: Any, demo_server: DemoServer, artefacts: Path
) -> None:
    page.goto(demo_server.base + "/dashboard/jobs")
    demo = next(j for j in api(demo_server, "/v1/jobs")["data"] if j["trigger"] == "cli")
    page.click(f'#jobs tr.job[data-job-id="{demo["job_id"]}"] a')
    page.wait_for_selector("#trials")
    search = demo["results"]["search"]
    rows = page.locator("#trials tbody tr")
    assert rows.count() == len(search["trials"])
    best = page.locator("#trials tr.best-trial")
    winner = search["trials"][search["best_trial"]]
    assert winner["family"] in best.inner_text() and f"{winner['value']:.4f}" in best.inner_text()
    states = [t["state"] for t in search["trials"]]
    assert page.locator("#trials tr[data-state=pruned]").count() == states.count("pruned")
    assert page.locator("svg.trial-chart circle.trial").count() == len(search["trials"])
    shot(page, artefacts, "job-search")


@pytest.mark.slow  # a worker process trains: several seconds
def test_training_job_with_live_progress(
    page: Any, demo_server: DemoServer, artefacts: Path
) -> None:
    page.goto(demo_server.base + "/dashboard/jobs")
    assert page.locator("#jobs tr.job[data-status=succeeded]").count() >= 1  # the demo's
    page.check("input[name=models][value=popular]")
    page.select_option("select[name=promote]", "never")
    page.click("form.train button[type=submit]")
    page.wait_for_selector(".flash.ok")
    job_id = re.search(r"training job (\w+) started", page.inner_text(".flash.ok"))
    assert job_id is not None
    row = page.locator(f'#jobs tr.job[data-job-id="{job_id.group(1)}"]')
    assert row.get_attribute("data-status") in ("queued", "running", "succeeded")
    shot(page, artefacts, "jobs-running")
    # the script polls the job, moves its bar, and reloads the page once it is done
    page.wait_for_url(demo_server.base + "/dashboard/jobs", timeout=90_000)
    row = page.locator(f'#jobs tr.job[data-job-id="{job_id.group(1)}"]')
    assert "popular" in row.inner_text()
    job = api(demo_server, f"/v1/jobs/{job_id.group(1)}")
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    shot(page, artefacts, "jobs-done")


def test_experiment_with_online_metrics(
    page: Any, demo_server: DemoServer, artefacts: Path
) -> None:
    page.goto(demo_server.base + "/dashboard/experiments")
    page.fill("input[name=experiment_id]", "knn-vs-ease")
    page.select_option("#define-experiment select[name=treatment]", "item_knn/v0001")
    page.click("#define-experiment button[type=submit]")
    page.click("#confirm-start")  # the confirmation page
    page.wait_for_selector(".flash.ok")
    card = page.locator('section.experiment[data-experiment-id="knn-vs-ease"]')
    assert card.get_attribute("data-status") == "running"

    # traffic: every user gets a list; treatment users click their first item more often
    events = []
    with httpx.Client(base_url=demo_server.base, headers=HEADERS, timeout=30) as client:
        for u in range(40):
            user = f"user{u:05d}"
            listed = client.get(f"/v1/users/{user}/recommendations", params={"n": 5}).json()
            if listed.get("variant") == "treatment" or u % 3 == 0:
                events.append({
                    "user_id": user, "item_id": listed["items"][0]["item_id"], "type": "click",
                    "recommendation_id": listed["recommendation_id"],
                })  # fmt: skip
        assert client.post("/v1/feedback", json=events).status_code == 200
    expected = {
        v["variant"]: v
        for v in api(demo_server, "/v1/experiments/knn-vs-ease")["metrics"]["variants"]
    }
    assert sum(v["impressions"] for v in expected.values()) == 40

    page.goto(demo_server.base + "/dashboard/experiments")
    for name, metrics in expected.items():
        row = card.locator(f'tr[data-variant="{name}"]')
        assert number(row.locator(".impressions").inner_text()) == metrics["impressions"]
        assert f"{metrics['ctr']['rate'] * 100:.2f}%" in row.locator(".ctr").inner_text()
    assert card.locator("svg rect.bar").count() == 2
    assert "treatment vs control" in card.locator(".comparison").inner_text()
    shot(page, artefacts, "experiments")

    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("form button", has_text="Stop").click()
    page.wait_for_selector(".flash.ok")
    assert card.get_attribute("data-status") == "stopped"
    assert api(demo_server, "/v1/experiments/knn-vs-ease")["status"] == "stopped"


def test_experiment_form_offers_a_model_of_the_scenario_and_asks_first(
    page: Any, demo_server: DemoServer, artefacts: Path
) -> None:
    champions = api(demo_server, "/v1/models")
    page.goto(demo_server.base + "/dashboard/experiments")
    form = page.locator("#define-experiment")
    treatment = form.locator("select[name=treatment]")
    # recommended: a model trained for it that is not its champion, not cooccurrence
    offered = treatment.input_value()
    assert offered.split("/")[0] in ("item_knn", "ease"), offered
    assert offered != champions_of(champions, "recommended")
    suits = treatment.locator(f'option[value="{offered}"]').get_attribute("data-scenarios")
    assert "recommended" in (suits or "").split()
    # another scenario: the offer follows it
    form.locator("select[name=scenario]").select_option("frequently_bought_together")
    assert treatment.input_value().startswith("cooccurrence/")
    form.locator("select[name=scenario]").select_option("recommended")
    assert treatment.input_value() == offered

    # a model trained for another scenario: the confirmation page warns; cancel changes nothing
    page.fill("#define-experiment input[name=experiment_id]", "fbt-on-recommended")
    treatment.select_option("cooccurrence/v0001")
    page.click("#define-experiment button[type=submit]")
    confirm = page.locator("#confirm-experiment")
    assert "50%" in confirm.inner_text() and "live users" in confirm.inner_text()
    assert "not trained for recommended" in page.inner_text("#unsuited")
    shot(page, artefacts, "experiment-confirm")
    page.click("#cancel-start")
    page.wait_for_url(demo_server.base + "/dashboard/experiments")
    listed = [e["experiment_id"] for e in api(demo_server, "/v1/experiments")["data"]]
    assert "fbt-on-recommended" not in listed

    # the offered model: no warning, and confirming starts it
    page.fill("#define-experiment input[name=experiment_id]", "offered-model")
    page.click("#define-experiment button[type=submit]")
    assert page.locator("#unsuited").count() == 0
    page.click("#confirm-start")
    page.wait_for_selector(".flash.ok")
    started = api(demo_server, "/v1/experiments/offered-model")
    assert started["status"] == "running"
    assert started["variants"][1]["model"] == offered
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('section.experiment[data-experiment-id="offered-model"] form button',
                 has_text="Stop").click()  # fmt: skip
    page.wait_for_selector(".flash.ok")
    assert api(demo_server, "/v1/experiments/offered-model")["status"] == "stopped"


def champions_of(models: Any, scenario: str) -> str | None:
    """The champion ref of ``scenario`` in GET /v1/models's answer."""
    return (models.get("champions") or {}).get(scenario)
