"""Public surface of uavops.hub and the app factory built straight from the shared Settings."""

from __future__ import annotations

import httpx
from fixtures.hub import make_package, seed_hub

import uavops.hub as hub_pkg
from uavops.config import Settings


def test_exported_members_resolve():
    for name in hub_pkg.__all__:
        assert getattr(hub_pkg, name) is not None, name


def test_create_app_from_settings_with_asgi_transport(tmp_path):
    from uavops.hub import HubService, Outbox, UploadClient, create_app
    from uavops.hub.config import HubConfig

    settings = Settings(hub_data_dir=tmp_path / "hub")
    service = HubService(HubConfig.from_settings(settings))
    tokens = seed_hub(service)
    service.close()
    app = create_app(settings)
    client = UploadClient("http://hub.local", tokens["kg"], transport=httpx.ASGITransport(app=app))
    result = client.upload(make_package(tmp_path / "pkg"), Outbox(tmp_path / "outbox"))
    client.close()
    assert result.status == "created"
    assert app.state.service.get_report(result.report_id)["org"] == "KG-MChS"


def test_openapi_operation_ids_are_unique(tmp_path):
    """Client generators (and schemathesis) key operations by id; a GET+HEAD route once shared one."""
    import warnings

    from uavops.hub import create_app

    app = create_app(Settings(hub_data_dir=tmp_path / "hub"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns on a duplicate operation id
        spec = app.openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values() if "operationId" in op]
    assert len(ids) == len(set(ids)) > 20
