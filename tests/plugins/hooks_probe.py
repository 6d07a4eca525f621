"""Test-only plugins, one per surface, recording what each hook was given (see tests/test_hooks_*.py)."""

from __future__ import annotations

import datetime as dt

import click
from litestar import Request, get
from piccolo.columns import Text, Varchar

from hoso import ActionDef, ScheduledWork, ScopeRule, SystemTable, hookimpl, request_context


class Routes:
    """``GET /api/probe/whoami``: the signed-in user's name, through the built-in request context."""

    @hookimpl
    def hoso_routes(self, runtime):
        @get("/api/probe/whoami")
        async def whoami(request: Request) -> dict:
            ctx = await request_context(request)
            return {"user": ctx.user_name, "entities": [e.name for e in runtime.config.entities]}

        return [whoami]


class Commands:
    @hookimpl
    def hoso_cli_commands(self):
        @click.command("probe-hello")
        @click.option("--name", default="thế giới")
        def hello(name):
            """Say hello (test plugin)."""
            click.echo(f"xin chào {name}")

        return [hello]


class Tables:
    @hookimpl
    def hoso_system_tables(self):
        return [SystemTable("probe_call", lambda: {"phone": Varchar(length=20), "note": Text(default="")})]


class Schedule:
    """Work that counts its runs in ``runs`` (a list, shared with the test)."""

    def __init__(self, every: dt.timedelta = dt.timedelta(hours=1), fail: bool = False):
        self.runs: list[str] = []
        self.every = every
        self.fail = fail

    @hookimpl
    def hoso_scheduled_work(self):
        async def count(runtime):
            self.runs.append(runtime.config.content_hash)
            if self.fail:
                raise RuntimeError("probe failure")

        return [ScheduledWork("probe_count", self.every, count)]


class Events:
    """Records every record event, in and after the transaction."""

    def __init__(self, refuse_entity: str | None = None):
        self.seen: list[tuple] = []
        self.committed: list[list[tuple]] = []
        self.refuse_entity = refuse_entity

    @hookimpl
    def hoso_record_created(self, entity, record, context):
        self.seen.append(("created", entity.name, record["id"]))
        if entity.name == self.refuse_entity:
            raise RuntimeError("refused by the probe")

    @hookimpl
    async def hoso_record_changed(self, entity, before, after, context):
        self.seen.append(("changed", entity.name, before["sys_version"], after["sys_version"]))

    @hookimpl
    def hoso_record_deleted(self, entity, record, context):
        self.seen.append(("deleted", entity.name, record["sys_delete_reason"]))

    @hookimpl
    def hoso_record_restored(self, entity, record, context):
        self.seen.append(("restored", entity.name, record["sys_deleted_at"]))

    @hookimpl
    def hoso_record_transitioned(self, entity, record, transition, context):
        self.seen.append(("transitioned", entity.name, transition.name, record["status"]))

    @hookimpl
    async def hoso_after_commit(self, events):
        self.committed.append([(e.kind, e.entity.name, e.record["id"]) for e in events])


class Vocabulary:
    """An action ``run_hotline`` and a scope ``same_requester``: rows whose requester is the user's name."""

    @hookimpl
    def hoso_actions(self):
        return [ActionDef("run_hotline", {"vi": "Trực tổng đài", "en": "Answer the hotline"})]

    @hookimpl
    def hoso_scope_rules(self):
        def same_requester(entity, alias, user_id):
            if entity.name != "case":
                return None
            return f"{alias}.requester = (SELECT username FROM hoso_user WHERE id = {{}})", (user_id,)

        return [ScopeRule("same_requester", {"vi": "Cùng người yêu cầu", "en": "Same requester"}, same_requester)]
