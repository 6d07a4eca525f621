"""/metrics: closed unless a token or an address allows it; requests counted by route template and status,
timed, the PostgreSQL pool reported, plugins' gauges read at each scrape, several processes summed."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from hoso.hookspecs import hookimpl
from hoso.plugin_types import MetricGauge
from hoso.web.metrics import MetricsAccess
from tests.web.conftest import running
from tests.web.test_records import new_case

TOKEN = "s3cret-metrics-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("HOSO_METRICS_TOKEN", TOKEN)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(web) -> dict[tuple[str, tuple], float]:
    r = await web.client.get("/metrics", headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def requests_of(found, route, status, method="GET") -> float:
    key = ("hoso_http_requests_total", (("method", method), ("route", route), ("status", str(status))))
    return found.get(key, 0.0)


async def test_metrics_are_closed_without_a_token_or_network(config_dir, database_url, monkeypatch):
    monkeypatch.delenv("HOSO_METRICS_TOKEN")
    async with running(config_dir.root, database_url) as web:
        r = await web.client.get("/metrics", headers={**BEARER, "Accept-Language": "en"})
        assert r.status_code == 403 and "HOSO_METRICS_TOKEN" in r.json()["detail"]
        assert "hoso_http" not in r.text


async def test_a_wrong_or_missing_token_is_refused(web):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        r = await web.client.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_requests_are_counted_by_route_template_and_status(admin):
    before = await scrape(admin)
    for _ in range(3):
        assert (await admin.client.get("/healthz")).status_code == 200
    created = await new_case(admin)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    assert (await admin.client.get(f"/api/records/case/{record_id}")).status_code == 200
    assert (await admin.client.get("/api/records/case/987654321")).status_code == 404
    assert (await admin.client.get("/no/such/path/4242")).status_code == 404
    after = await scrape(admin)

    assert requests_of(after, "/healthz", 200) - requests_of(before, "/healthz", 200) == 3
    assert requests_of(after, "/api/records/case", 201, "POST") - requests_of(before, "/api/records/case", 201,
                                                                              "POST") == 1
    routes = {dict(labels)["route"] for (name, labels) in after if name == "hoso_http_requests_total"}
    one = [r for r in routes if r.startswith("/api/records/") and "{" in r and r.count("/") == 4]
    assert one, routes
    assert requests_of(after, one[0], 200) >= 1 and requests_of(after, one[0], 404) >= 1
    assert requests_of(after, "unmatched", 404) >= 1
    assert not any(str(record_id) in r or "4242" in r or "987654321" in r for r in routes)
    # every answered request is timed: the histogram's count equals the requests counted, route by route
    count = after[("hoso_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))]
    assert count == requests_of(after, "/healthz", 200)


async def test_the_postgresql_pool_is_reported(config_dir, postgres_url):
    async with running(config_dir.root, postgres_url) as web:
        assert (await web.client.get("/readyz")).status_code == 200
        found = await scrape(web)
        assert found[("hoso_db_pool_connections", (("state", "open"),))] >= 1
        assert found[("hoso_db_pool_max_connections", ())] == 10
        assert 0 <= found[("hoso_db_pool_connections", (("state", "idle"),))] <= 10


async def test_a_pool_is_reported_on_postgresql_only(web, engine_name):
    found = await scrape(web)
    assert any(name.startswith("hoso_db_pool") for name, _ in found) == (engine_name == "postgres")


class _Queue:
    depth = {("mail",): 3.0, ("exports",): 0.0}

    @hookimpl
    def hoso_metrics(self, runtime):
        async def depth(rt):
            assert rt is runtime
            return self.depth

        async def failures(rt):
            return await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_unit")

        async def broken(rt):
            raise RuntimeError("no table")

        return [MetricGauge("hoso_jobs_queued", "Jobs waiting", depth, labels=("queue",)),
                MetricGauge("hoso_units_known", "Units", failures),
                MetricGauge("hoso_broken", "Never read", broken)]


async def test_plugin_gauges_are_read_at_each_scrape(config_dir, database_url):
    queue = _Queue()
    async with running(config_dir.root, database_url, plugins=[queue]) as web:
        found = await scrape(web)
        assert found[("hoso_jobs_queued", (("queue", "mail"),))] == 3
        assert found[("hoso_jobs_queued", (("queue", "exports"),))] == 0
        assert found[("hoso_units_known", ())] == await web.count("hoso_unit")
        assert not any(name == "hoso_broken" for name, _ in found)
        queue.depth = {("mail",): 7.0}
        assert (await scrape(web))[("hoso_jobs_queued", (("queue", "mail"),))] == 7


NETWORKS = st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), max_size=3)


@given(token=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                                          max_size=12)),
       sent=st.one_of(st.none(), st.text(max_size=20)), networks=NETWORKS, address=st.integers(0, 2**32 - 1),
       bearer=st.booleans())
def test_access_matches_its_rule(token, sent, networks, address, bearer):
    nets = tuple(ipaddress.ip_network((n, p), strict=False) for n, p in networks)
    access = MetricsAccess(token, nets)
    ip = str(ipaddress.ip_address(address))
    header = f"Bearer {token}" if bearer and token else sent
    token_ok = bool(token) and header is not None and header.partition(" ")[0].lower() == "bearer" \
        and header.partition(" ")[2].strip() == token
    network_ok = any(ipaddress.ip_address(ip) in n for n in nets)
    assert access.allows(header, ip) == (token_ok or network_ok)
    assert access.allows(header, "not-an-address") == token_ok
    assert access.closed == (not token and not nets)


def test_a_network_reads_metrics_without_the_token():
    access = MetricsAccess(None, (ipaddress.ip_network("10.0.0.0/8"),))
    assert access.allows(None, "10.1.2.3") and not access.allows(None, "192.168.0.1")
    assert not access.allows("Bearer anything", "192.168.0.1")


_WORKER = textwrap.dedent("""
    import sys
    from hoso.runtime import Runtime
    from hoso.web.metrics import Metrics

    rt = Runtime.create(sys.argv[1], sys.argv[2])
    metrics = Metrics(rt)
    for _ in range(int(sys.argv[3])):
        metrics.started()
        metrics.answered("GET", "/healthz", 200, 0.01)
    if sys.argv[4] == "scrape":
        import asyncio
        sys.stdout.write(asyncio.run(metrics.exposition()).decode())
""")


def test_several_processes_are_summed_in_multiprocess_mode(config_dir, tmp_path):
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "HOSO_DISABLE_ENTRYPOINTS": "1"}
    url = f"sqlite:///{tmp_path / 'm.db'}"

    def run(n: int, mode: str) -> str:
        done = subprocess.run([sys.executable, "-c", _WORKER, str(config_dir.root), url, str(n), mode], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(4, "count")
    run(5, "count")
    found = samples(run(2, "scrape"))
    assert requests_of(found, "/healthz", 200) == 11
    assert found[("hoso_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))] == 11
