"""Pages render for the roles that may see them, every table has a working CSV download, forms
need their CSRF token, and the login/logout cycle works."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from servicepulse.cli.main import app as cli
from servicepulse.web.tables import api_tokens, users
from tests.web.conftest import PASSWORD, WEEK, Tokens, login

PAGES = ["/", "/wallboard", "/teams", "/teams/team-a", "/agents", "/agents/a1", "/channels",
         "/trends?kpi=csat&period=day&by=channel", "/interactions?kpi=csat",
         "/customers", "/customers/c1", "/quarantine", "/admin/users"]


def _csv_links(html: str) -> list[str]:
    return [link.replace("&amp;", "&")
            for link in re.findall(r'<a class="csv" href="([^"]+)"', html)]


def test_every_page_renders_and_its_csv_downloads(client: TestClient) -> None:
    login(client, "admin")
    downloads = 0
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:500])
        assert "ServicePulse" in response.text
        for link in _csv_links(response.text):
            download = client.get(link)
            assert download.status_code == 200, (page, link, download.text[:300])
            assert download.headers["content-type"].startswith("text/csv"), link
            header = next(csv.reader(io.StringIO(download.text)))
            assert header and header[0], link
            downloads += 1
    # every page with a table links its CSV (wallboard and users pages have none)
    assert downloads >= 13


def test_customer_page_shows_the_whole_history(client: TestClient) -> None:
    login(client, "manager")
    page = client.get("/customers/c1").text
    # c1 contacted on i01 (phone), i04 (abandoned phone) and i07 (email); ordered newest first
    assert re.findall(r'<tr data-id="(i\d+)"', page) == ["i07", "i04", "i01"]
    assert "Quick and kind" in page  # the survey comment on i01
    assert "120.50 USD" in page  # the order
    rows = list(csv.DictReader(io.StringIO(
        client.get("/api/v1/customers/c1?format=csv&table=interactions").text)))
    assert [row["id"] for row in rows] == ["i07", "i04", "i01"]


def test_drill_down_page_lists_the_interactions(client: TestClient) -> None:
    login(client, "manager")
    page = client.get("/interactions", params={**WEEK, "kpi": "csat", "agent": "a1"}).text
    assert sorted(re.findall(r'<tr data-id="(i\d+)"', page)) == ["i01", "i02"]
    assert '<b id="total">2</b>' in page


def test_csv_cells_cannot_start_a_formula(client: TestClient, tokens: Tokens) -> None:
    record = [{"type": "customer", "id": "c-formula", "name": "=HYPERLINK(\"http://x\")"}]
    client.post("/api/v1/records", json=record, headers=tokens.header("manager"))
    text = client.get("/api/v1/customers?format=csv&q=formula",
                      headers=tokens.header("manager")).text
    assert "'=HYPERLINK" in text


def test_forms_need_the_csrf_token(client: TestClient, centre: tuple[Engine, Tokens]) -> None:
    login(client, "admin")
    form = {"username": "newlead", "password": "long enough", "role": "team_lead",
            "team_ids": "team-b"}
    refused = client.post("/admin/users", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    page = client.get("/admin/users").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    saved = client.post("/admin/users", data={**form, "csrf_token": token},
                        follow_redirects=False)
    assert saved.status_code == 303
    with centre[0].connect() as connection:
        row = connection.execute(select(users.c.role, users.c.team_ids)
                                 .where(users.c.username == "newlead")).one()
    assert tuple(row) == ("team_lead", ["team-b"])
    # JSON calls from a page's script send it as a header instead
    api = client.post("/api/v1/records", json=[{"type": "customer", "id": "c8"}])
    assert api.status_code == 403
    api = client.post("/api/v1/records", json=[{"type": "customer", "id": "c8"}],
                      headers={"X-CSRF-Token": token})
    assert api.status_code == 200


def test_login_rejects_wrong_password_and_forged_form(client: TestClient) -> None:
    form = client.get("/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    wrong = client.post("/login", data={"username": "admin", "password": "nope",
                                        "csrf_token": token})
    assert wrong.status_code == 401
    assert "wrong password" in wrong.text
    client.cookies.clear()
    forged = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                         "csrf_token": token})
    assert forged.status_code == 403


def test_login_redirects_only_within_the_site(client: TestClient) -> None:
    form = client.get("/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                           "csrf_token": token, "next": "//evil.example/"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client, "manager")
    page = client.get("/").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    client.app.state.services._identities.clear()  # type: ignore[attr-defined]
    assert client.get("/api/v1/agents").status_code == 401


def test_user_and_token_commands(centre: tuple[Engine, Tokens]) -> None:
    engine = centre[0]
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    added = runner.invoke(cli, ["--db", url, "user", "add", "--username", "bob",
                                "--password", "s3cret-pass", "--role", "agent",
                                "--agent", "a2"])
    assert added.exit_code == 0, added.output
    created = runner.invoke(cli, ["--db", url, "token", "create", "--username", "bob",
                                  "--scope", "read"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert re.fullmatch(r"sp_[A-Za-z0-9_-]{43}", token)  # the token alone on stdout
    with engine.connect() as connection:
        password_hash = connection.execute(
            select(users.c.password_hash).where(users.c.username == "bob")).scalar_one()
        stored = [row.token_hash for row in connection.execute(select(api_tokens))]
    assert password_hash.startswith("$argon2id$") and "s3cret-pass" not in password_hash
    assert token not in stored and all(len(digest) == 64 for digest in stored)
    refused = runner.invoke(cli, ["--db", url, "user", "add", "--username", "x",
                                  "--password", "s3cret-pass", "--role", "agent"])
    assert refused.exit_code == 2
    assert "--agent" in refused.output
    unknown = runner.invoke(cli, ["--db", url, "token", "create", "--username", "nobody",
                                  "--scope", "read"])
    assert unknown.exit_code == 2


def test_trends_of_first_response_split_by_channel(client: TestClient) -> None:
    """A median first response over calls (seconds) and emails (hours) together means nothing:
    the trend of `frt` is one line per channel unless one channel is chosen."""
    login(client, "manager")
    page = client.get("/trends", params={**WEEK, "kpi": "frt"})
    assert page.status_code == 200
    assert "one line per channel" in page.text
    assert "<option selected>channel</option>" in page.text
    single = client.get("/trends", params={**WEEK, "kpi": "frt", "channel": "email"})
    assert single.status_code == 200
    assert "one line per" not in single.text
    other = client.get("/trends", params={**WEEK, "kpi": "csat"})
    assert "one line per" not in other.text
