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
