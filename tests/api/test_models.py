"""Model versions, champions, promote and rollback over HTTP, and the refusal of a corrupt
or mismatched artifact while the previous champion keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from recserve.training import train_default_models
from tests.api.conftest import synthetic_events, train


def serving(client: TestClient) -> str:
    response = client.get("/v1/users/u00/recommendations", params={"n": 3})
    assert response.status_code == 200, response.text
    return response.json()["model"]


def register_more(client: TestClient) -> None:
    """New versions of every default model, not promoted."""
    state = client.app.state  # type: ignore[attr-defined]
    train_default_models(state.store, state.registry, state.settings.feedback_types, promote=False)


def scenario(client: TestClient, name: str) -> dict:
    rows = client.get("/v1/scenarios").json()["data"]
    return next(row for row in rows if row["scenario"] == name)


def test_list_versions_and_champions(trained_client: TestClient) -> None:
    body = trained_client.get("/v1/models").json()
    assert body["champions"]["recommended"] == "item_knn/v0001"
    knn = next(v for v in body["versions"] if v["ref"] == "item_knn/v0001")
    assert knn["family"] == "item_knn" and "recommended" in knn["champion_of"]
    assert knn["manifest"]["data"]["events"] == len(synthetic_events())
    one = trained_client.get("/v1/models/item_knn/v0001").json()
    assert one["manifest"]["config"]["neighbours"] == 100 and one["ref"] == "item_knn/v0001"
    assert (
        trained_client.get("/v1/models", params={"name": "popular"}).json()["versions"][0]["name"]
        == "popular"
    )
    missing = trained_client.get("/v1/models/item_knn/v0099")
    assert missing.status_code == 404 and missing.json()["code"] == "model_version_not_found"
    assert trained_client.get("/v1/models/item_knn/latest").status_code == 422
    row = scenario(trained_client, "recommended")
    assert row == {
        "scenario": "recommended",
        "champion": "item_knn/v0001",
        "serving": "item_knn/v0001",
        "history": [],
    }


def test_promote_and_rollback_swap_what_is_served(trained_client: TestClient) -> None:
    register_more(trained_client)
    assert serving(trained_client) == "item_knn/v0001"
    promoted = trained_client.post(
        "/v1/models/item_knn/v0002/promote", json={"scenario": "recommended"}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["serving"] == "item_knn/v0002"
    assert promoted.json()["history"] == ["item_knn/v0001"]
    assert serving(trained_client) == "item_knn/v0002"

    back = trained_client.post("/v1/scenarios/recommended/rollback")
    assert back.status_code == 200, back.text
    assert back.json()["champion"] == back.json()["serving"] == "item_knn/v0001"
    assert serving(trained_client) == "item_knn/v0001"
    again = trained_client.post("/v1/scenarios/recommended/rollback")
    assert again.status_code == 409 and again.json()["code"] == "no_previous_champion"
    assert serving(trained_client) == "item_knn/v0001"


def test_a_corrupt_artifact_is_refused_and_the_champion_keeps_serving(
    trained_client: TestClient, tmp_path: Path
) -> None:
    register_more(trained_client)
    arrays = tmp_path / "models" / "item_knn" / "v0002" / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-16] + b"corrupted bytes!")
    refused = trained_client.post(
        "/v1/models/item_knn/v0002/promote", json={"scenario": "recommended"}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "artifact_rejected"
    assert "checksum" in refused.json()["message"]
    assert serving(trained_client) == "item_knn/v0001"
    assert scenario(trained_client, "recommended")["champion"] == "item_knn/v0001"

    # the serving champion's own file corrupted on disk: promoting it anywhere is refused,
    # and the copy already loaded keeps answering
    champion = tmp_path / "models" / "item_knn" / "v0001" / "arrays.npz"
    champion.write_bytes(b"\0" * 64)
    refused = trained_client.post(
        "/v1/models/item_knn/v0001/promote", json={"scenario": "because_you_liked"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "artifact_rejected"
    assert serving(trained_client) == "item_knn/v0001"


def test_a_manifest_that_does_not_match_its_arrays_is_refused(
    trained_client: TestClient, tmp_path: Path
) -> None:
    register_more(trained_client)
    path = tmp_path / "models" / "item_knn" / "v0002" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["family"] = "ease"
    path.write_text(json.dumps(manifest))
    refused = trained_client.post(
        "/v1/models/item_knn/v0002/promote", json={"scenario": "recommended"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "artifact_rejected"
    assert serving(trained_client) == "item_knn/v0001"


def test_bad_promote_requests_get_stable_codes(trained_client: TestClient) -> None:
    unknown = trained_client.post(
        "/v1/models/item_knn/v0001/promote", json={"scenario": "no_such_scenario"}
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_scenario"
    missing = trained_client.post("/v1/models/nope/v0001/promote", json={"scenario": "popular"})
    assert missing.status_code == 404 and missing.json()["code"] == "model_version_not_found"
    for body in ({}, {"scenario": 5}, {"scenario": "popular", "extra": 1}, []):
        response = trained_client.post("/v1/models/item_knn/v0001/promote", json=body)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"
    dots = trained_client.post("/v1/scenarios/..%2F..%2Fx/rollback")
    assert dots.status_code in (404, 422) and "code" in dots.json()


def test_writes_need_the_admin_scope(make_client: Callable[..., TestClient]) -> None:
    keys = [
        {"key": "reader-key-123", "scopes": ["read"]},
        {"key": "writer-key-123", "scopes": ["write"]},
        {"key": "admin-key-1234", "scopes": ["admin"]},
    ]
    client = make_client(api_keys=keys)
    admin = {"X-API-Key": "admin-key-1234"}
    assert client.post("/v1/feedback", json=synthetic_events(), headers=admin).status_code == 200
    train(client.app)  # type: ignore[arg-type]
    for key in ("reader-key-123", "writer-key-123"):
        headers = {"X-API-Key": key}
        for path, body in (
            ("/v1/models/item_knn/v0001/promote", {"scenario": "recommended"}),
            ("/v1/scenarios/recommended/rollback", None),
            ("/v1/models/train", {}),
        ):
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 403, (key, path)
            assert response.json()["code"] == "insufficient_scope"
    reader = {"X-API-Key": "reader-key-123"}
    assert client.get("/v1/models", headers=reader).status_code == 200
    assert client.get("/v1/scenarios", headers=reader).status_code == 200
    assert client.get("/v1/jobs", headers=reader).status_code == 200
    assert client.get("/v1/models").status_code == 401
    promoted = client.post(
        "/v1/models/item_knn/v0001/promote", json={"scenario": "recommended"}, headers=admin
    )
    assert promoted.status_code == 200
