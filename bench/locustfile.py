"""Locust users of the deadline load test. Run through bench/loadtest.py, which prepares the accounts, starts the
server and passes HOSO_LOAD_USERS (a JSON file: logged-in accounts with their session cookies, whether the
reports API is there, the report to run, and where to append acknowledged writes).

Each simulated user takes one account. Centre staff list cases, open one, create cases at their centre and edit
the cases they created (each case is edited by its creator only, in order, so the last acknowledged edit is what
the database must hold); every role runs the report and exports. Without the reports API, a report run is the
counted list of the year's cases filtered on a field of law, and an export is a page of 1,000 cases.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import sys
from pathlib import Path

from locust import FastHttpUser, between, task

SETUP = json.loads(Path(os.environ["HOSO_LOAD_USERS"]).read_text(encoding="utf-8"))
ACCOUNTS = SETUP["accounts"]
NEXT = itertools.count()
ACKS = open(SETUP["acks"], "a", encoding="utf-8")  # noqa: SIM115  (appended to for the whole run)
FIELDS = ["HS", "DS", "HNGD", "HC", "LD", "DD", "CSXH", "KHAC"]
FORMS = ["TV", "TGTT", "DDNTT"]
GROUPS = ["NCC", "HN", "TE", "DTTS", "MBN", "KKTC_NCT", "KKTC_NKT"]
STATUSES = ["received", "accepted", "assigned", "ended"]


SAID: set[tuple[str, int]] = set()


def refused(name: str, response) -> None:
    """Say once per request kind and status what the server answered (the runner prints locust's output)."""
    if response.status_code >= 400 and (name, response.status_code) not in SAID:
        SAID.add((name, response.status_code))
        print(f"refused: {name}: {response.status_code} {(response.text or '')[:400]}", file=sys.stderr, flush=True)


def ack(case: dict) -> None:
    """One write the server acknowledged (2xx with the record): appended as one line, flushed."""
    ACKS.write(json.dumps({"id": case["id"], "version": case["sys_version"], "summary": case.get("summary")},
                          ensure_ascii=False) + "\n")
    ACKS.flush()


class DeadlineUser(FastHttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.account = ACCOUNTS[next(NEXT) % len(ACCOUNTS)]
        self.role = self.account["role"]
        self.headers = {"Cookie": f"hoso_session={self.account['cookie']}", "Accept-Language": "vi"}
        self.mine: list[dict] = []  # cases this user created: id, version, edits
        self.seen: list[int] = []
        self.rnd = random.Random()

    def _get(self, path: str, name: str, **params):
        r = self.client.get(path, params=params, headers=self.headers, name=name)
        refused(name, r)
        return r

    @task(10)
    def list_cases(self) -> None:
        if self.role == "national_statistician":
            return self.run_report()
        params = {"page_size": 50, "sort": "-received_on"}
        if self.rnd.random() < 0.5:
            params["status"] = self.rnd.choice(STATUSES)
        r = self._get("/api/records/case", "list cases", **params)
        if r.status_code == 200:
            self.seen = [item["id"] for item in r.json()["items"]]

    @task(5)
    def open_case(self) -> None:
        if self.role == "national_statistician" or not self.seen:
            return self.list_cases()
        self._get(f"/api/records/case/{self.rnd.choice(self.seen)}", "open a case")

    @task(3)
    def create_case(self) -> None:
        if self.role != "centre_staff":
            return self.list_cases()
        body = {"unit": self.account["unit_id"], "received_on": SETUP["today"], "request_channel": "in_person",
                "requester_name": f"Người yêu cầu {self.account['username']} {len(self.mine)}",
                "gender": self.rnd.choice(["male", "female"]), "field_of_law": self.rnd.choice(FIELDS),
                "form_of_aid": self.rnd.choice(FORMS), "beneficiary_groups": [self.rnd.choice(GROUPS)],
                "summary": "tạo mới"}
        if body["form_of_aid"] == "TGTT":  # participation in proceedings: its stage and role are required
            body |= {"procedural_stage": self.rnd.choice(["investigation", "prosecution", "trial"]),
                     "litigation_role": self.rnd.choice(["defence", "protection"])}
        r = self.client.post("/api/records/case", json=body, headers=self.headers, name="create a case")
        refused("create a case", r)
        if r.status_code == 201:
            case = r.json()
            ack(case)
            self.mine.append({"id": case["id"], "version": case["sys_version"], "edits": 0})

    @task(6)
    def edit_case(self) -> None:
        if self.role != "centre_staff":
            return self.list_cases()
        if not self.mine:
            return self.create_case()
        case = self.rnd.choice(self.mine)
        case["edits"] += 1
        summary = f"sửa lần {case['edits']} bởi {self.account['username']}"
        r = self.client.patch(f"/api/records/case/{case['id']}", json={"summary": summary,
                                                                      "sys_version": case["version"]},
                              headers=self.headers, name="edit a case")
        refused("edit a case", r)
        if r.status_code == 200:
            body = r.json()
            ack(body)
            case["version"] = body["sys_version"]

    @task(4)
    def run_report(self) -> None:
        year = SETUP["year"]
        if SETUP["reports_api"]:
            self._get(f"/api/reports/{SETUP['report']}", "run the report", period=str(year))
        else:
            self._get("/api/records/case", "run the report (counted filtered list)", page_size=1,
                      received_on__gte=f"{year}-01-01", received_on__lte=f"{year}-12-31",
                      field_of_law=self.rnd.choice(FIELDS))

    @task(1)
    def export(self) -> None:
        if SETUP["reports_api"]:
            self._get(f"/api/reports/{SETUP['report']}", "export the report (xlsx)", period=str(SETUP["year"]),
                      format="xlsx")
        elif self.role == "national_statistician":
            self.run_report()
        else:
            self._get("/api/records/case", "export (a page of 1,000 cases)", page_size=1000,
                      received_on__gte=f"{dt.date.today().year}-01-01")
