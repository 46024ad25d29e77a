from __future__ import annotations

from portal_world import ADMIN, ALICE, World


def test_every_page_renders_for_a_platform_admin(world: World) -> None:
    client = world.client()
    assert client.sign_in(ADMIN).status_code == 303
    news = world.sites["news"]
    for path in (
        "/", f"/p/{news}", f"/p/{news}/team", f"/p/{news}/api-keys", f"/p/{news}/client-side",
        f"/p/{news}/sharing", f"/p/{news}/audit", "/platform/participants",
        f"/platform/participants/{news}", "/platform/keys", "/platform/optout",
        "/platform/audit", "/platform/users", "/login", "/forgot-password",
        "/set-password/nope", "/healthz", "/metrics", "/api/openapi.json", "/api/v1/me",
    ):  # fmt: skip
        response = client.get(path)
        assert response.status_code in (200, 303), (path, response.status_code, response.text)


def test_a_member_lands_on_their_participant(world: World) -> None:
    client = world.client()
    assert client.sign_in(ALICE).headers["location"] == "/"
    assert client.get("/").headers["location"] == f"/p/{world.sites['news']}"
