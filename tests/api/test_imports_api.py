"""Bulk import over HTTP: preview, confirm, the admin only, big files let through."""

from __future__ import annotations

from care_api.services import Services
from tests.api.support import ADMIN, TestClient, mint
from tests.onboarding.sheets import BAD, GOOD, as_csv, as_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _post(api: TestClient, data: bytes, headers: dict[str, str], **query: str) -> object:
    return api.post(
        "/api/v1/imports/elders",
        content=data,
        params=query,
        headers={**headers, "Content-Type": "text/csv"},
    )


def test_preview_then_confirm_then_nothing_new(api: TestClient) -> None:
    data = as_csv(GOOD)
    preview = _post(api, data, ADMIN).json()  # type: ignore[attr-defined]
    assert (preview["new"], preview["committed"]) == (3, False)
    assert api.get("/api/v1/elders", headers=ADMIN).json() == []
    done = _post(api, data, ADMIN, commit="true").json()  # type: ignore[attr-defined]
    assert done["committed"] and len(done["secrets"]) == 2
    assert len(api.get("/api/v1/elders", headers=ADMIN).json()) == 3
    again = _post(api, data, ADMIN, commit="true").json()  # type: ignore[attr-defined]
    assert (again["new"], again["unchanged"], again["secrets"]) == (0, 3, [])


def test_bad_rows_in_an_xlsx_are_reported_in_the_asked_language(api: TestClient) -> None:
    response = api.post(
        "/api/v1/imports/elders",
        content=as_xlsx(GOOD + BAD),
        params={"commit": "true", "lang": "zh-CN", "filename": "register.xlsx"},
        headers={**ADMIN, "Content-Type": XLSX},
    )
    report = response.json()
    assert not report["committed"]
    assert [p["row"] for p in report["problems"]] == [5, 6, 6, 7]
    assert report["problems"][0]["reason"] == "必须填写 phone"
    assert api.get("/api/v1/elders", headers=ADMIN).json() == []


def test_only_the_admin_imports(api: TestClient) -> None:
    operator = mint(api, "operator", "Zhao")
    response = _post(api, as_csv(GOOD), operator, commit="true")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert _post(api, as_csv(GOOD), {}).status_code == 401  # type: ignore[attr-defined]
    assert api.get("/api/v1/elders", headers=ADMIN).json() == []


def test_a_file_of_several_megabytes_is_accepted(api: TestClient, services: Services) -> None:
    # Over the API's 1 MB cap for other bodies: the import route has its own.
    rows = [[f"Elder {i}", f"138{i:08d}", "x" * 200] for i in range(8000)]
    data = as_csv(rows, header=["name", "phone", "address"])
    assert len(data) > 1024 * 1024
    report = _post(api, data, ADMIN).json()  # type: ignore[attr-defined]
    assert report["rows"] == 8000 and report["problems"] == []
