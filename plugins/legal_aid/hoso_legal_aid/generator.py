"""Demonstration data for the legal-aid entities, on top of the generic generator (``hoso.demo_data``).

``LegalAidGenerator`` adds what the configuration cannot say: the mix of fields of law by form of aid (criminal
cases dominate participation in proceedings), the beneficiary groups and the ages they imply, the procedural
stage and the role in proceedings, hearings, the performers a centre assigns (its own, sometimes of a
participating organisation) and how far cases usually go through their lifecycle (a few refused, some
discontinued, files handed back within 30 days, most appraised as meeting the standard).

Only fields and options present in the loaded configuration are used; anything else falls back to the generic
generator. Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hoso.config import EntityDef, FieldDef, TransitionDef, WorkflowDef
from hoso.demo_data.generator import STREETS, RecordGenerator

__all__: list[str] = []

SUMMARIES = {
    "HS": ["Đề nghị cử người bào chữa cho bị can trong vụ án trộm cắp tài sản.",
           "Đề nghị bảo vệ quyền lợi cho bị hại trong vụ án cố ý gây thương tích.",
           "Đề nghị bào chữa cho người dưới 18 tuổi bị buộc tội."],
    "DS": ["Tranh chấp hợp đồng vay tài sản với người hàng xóm.",
           "Yêu cầu tư vấn về thừa kế quyền sử dụng đất theo di chúc."],
    "HNGD": ["Yêu cầu tư vấn thủ tục ly hôn và quyền nuôi con.",
             "Đề nghị hỗ trợ yêu cầu cấp dưỡng nuôi con sau ly hôn."],
    "HC": ["Khiếu nại quyết định thu hồi đất của Ủy ban nhân dân huyện.",
           "Hỏi về thủ tục khiếu nại quyết định xử phạt vi phạm hành chính."],
    "LD": ["Bị công ty chấm dứt hợp đồng lao động trái pháp luật, chưa được trả lương.",
           "Hỏi về chế độ bảo hiểm xã hội khi nghỉ việc."],
    "DD": ["Tranh chấp ranh giới thửa đất với hộ liền kề.",
           "Hỏi về thủ tục cấp giấy chứng nhận quyền sử dụng đất."],
    "CSXH": ["Hỏi về chế độ trợ cấp cho người khuyết tật.", "Hỏi về chính sách hỗ trợ hộ nghèo."],
    "KHAC": ["Yêu cầu tư vấn pháp luật về thủ tục hộ tịch."],
}
# Beneficiary groups and their weights (poor households, ethnic minorities, the elderly... dominate).
GROUPS = [("HN", 30), ("NCC", 8), ("TE", 8), ("DTTS", 14), ("KKTC_NCT", 10), ("KKTC_NKT", 8), ("BCTCN", 8),
          ("KKTC_BLGD", 6), ("TN1618", 4), ("MBN", 2), ("KKTC_LS", 2)]
CRIMINAL_ONLY = {"TN1618", "BCTCN"}  # people in criminal proceedings
FORMS = {"TGTT": 50, "TV": 40, "DDNTT": 10}
LAW_IN_PROCEEDINGS = {"HS": 55, "DS": 15, "HNGD": 15, "HC": 5, "LD": 5, "DD": 5}
LAW_OTHERWISE = {"DS": 20, "HNGD": 20, "DD": 20, "HC": 10, "LD": 10, "CSXH": 15, "HS": 3, "KHAC": 2}
CHANNELS = {"in_person": 60, "hotline": 15, "post": 10, "online": 10, "mobile_app": 5}
STAGES = {"investigation": 30, "prosecution": 20, "trial": 40, "appeal": 10}
# How likely each step of a case is among those its state allows; a step not named is never taken.
STEPS = {"accept": 96, "refuse": 4, "assign": 1, "start": 1, "end": 97, "discontinue": 3, "return_file": 1,
         "appraise": 1, "archive": 1}
# Days between the step before and this one.
GAPS = {"accept": (0, 3), "refuse": (0, 3), "assign": (0, 5), "start": (0, 7), "discontinue": (5, 60),
        "return_file": (1, 30), "appraise": (5, 60), "archive": (10, 120)}
# The chance that a case stays in a state although a step is possible.
STAYS = {"ended": 0.1, "returned": 0.3, "appraised": 0.5, "not_continued": 0.5}


class LegalAidGenerator(RecordGenerator):
    """The generic generator with the legal-aid domain's mixes; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.performer_organisation: dict[int, int | None] = {}
        self.favourite: int | None = None  # the demo performer: given half of the cases of its centre
        self._staff: dict[int | None, list[int]] = {}  # unit -> its performers, from the pools
        self._staff_of: Any = None

    def pick(self, entity: EntityDef, name: str, preferred: str | None = None,
             weights: Mapping[str, float] | None = None) -> str | None:
        """``preferred`` when it is an option of the field's list, else a (weighted) random option."""
        if not entity.has_field(name):
            return None
        opts = self.options(entity.field(name))
        if not opts:
            return preferred
        if preferred in opts:
            return preferred
        if weights:
            w = [weights.get(o, 0) for o in opts]
            if any(w):
                return self.rng.choices(opts, weights=w)[0]
        return self.rng.choice(opts)

    def entity_values(self, entity: EntityDef, values: dict) -> dict:
        if entity.name == "case":
            return self._case(entity, values)
        return {}

    def _case(self, e: EntityDef, given: dict) -> dict:
        rng = self.rng
        received = given.get("received_on") or self.date_between(self.first_day, self.today)
        unit = given.get("unit")
        name, gender = self.person()
        form = self.pick(e, "form_of_aid", weights=FORMS)
        litigation = form == "TGTT"
        law = self.pick(e, "field_of_law", weights=LAW_IN_PROCEEDINGS if litigation else LAW_OTHERWISE)
        group_opts = set(self.options(e.field("beneficiary_groups"))) if e.has_field("beneficiary_groups") else set()
        choices = [(g, w) for g, w in GROUPS if g in group_opts and (law == "HS" or g not in CRIMINAL_ONLY)] \
            or [(g, 1) for g in sorted(group_opts)]
        groups: list[str] = []
        for _ in range(1 if rng.random() < 0.8 else 2) if choices else ():
            g = rng.choices([g for g, _w in choices], weights=[w for _g, w in choices])[0]
            if g not in groups:
                groups.append(g)
        age = (rng.randint(8, 15) if "TE" in groups else rng.randint(16, 17) if "TN1618" in groups
               else rng.randint(60, 85) if "KKTC_NCT" in groups else rng.randint(18, 70))
        born = received.year - age
        province = self.province(unit)
        values: dict[str, Any] = {
            "received_on": received,
            "request_channel": self.pick(e, "request_channel", weights=CHANNELS),
            "urgent": rng.random() < 0.05,
            "requester_name": name,
            "requester_citizen_id": self.citizen_id(self.province_code(unit), gender, born),
            "gender": self.pick(e, "gender", gender),
            "birth_year": born,
            "phone": self.phone() if rng.random() < 0.85 else None,
            "address": f"Số {rng.randint(1, 300)} đường {rng.choice(STREETS)}, {province}",
            "beneficiary_groups": groups or None,
            "field_of_law": law,
            "form_of_aid": form,
            "summary": rng.choice(SUMMARIES.get(law or "", SUMMARIES["KHAC"])),
        }
        if litigation:
            values["procedural_stage"] = self.pick(e, "procedural_stage", weights=STAGES)
            values["litigation_role"] = self.pick(e, "litigation_role", "defence" if law == "HS" else
                                                  rng.choice(["protection", "representation"]))
            if e.has_field("hearings"):
                names = {f.name for f in e.field("hearings").fields}
                day, rows = received, []
                for k in range(rng.randint(1, 3)):
                    day = day + dt.timedelta(days=rng.randint(20, 90))
                    if day > self.today:
                        break
                    row = {"held_on": day,
                           "court": f"Tòa án nhân dân {province}" if k else f"Tòa án nhân dân khu vực, {province}",
                           "note": rng.choice(["Hoãn phiên tòa do vắng mặt người làm chứng.", "Xét xử sơ thẩm.",
                                               "Phiên họp hòa giải.", None])}
                    rows.append({k2: v for k2, v in row.items() if k2 in names and v is not None})
                values["hearings"] = rows or None
        return {k: v for k, v in values.items() if v is not None and e.has_field(k)}

    def field_value(self, entity: EntityDef, fd: FieldDef, values: dict, *, day: dt.date | None = None) -> Any:
        if entity.name == "case" and fd.name == "performer":
            if self._staff_of is not self.pools:
                self._staff = {}
                for rid, unit in self.pools.records.get("performer", []):
                    self._staff.setdefault(unit, []).append(rid)
                self._staff_of = self.pools
            staff = [rid for unit in sorted(self._centre(values)) for rid in self._staff.get(unit, [])]
            if not staff:
                return None
            if self.favourite in staff and self.rng.random() < 0.5:
                return self.favourite
            return self.rng.choice(staff)
        if entity.name == "case" and fd.name == "appraisal_result":
            return self.pick(entity, fd.name, weights={"meets": 95, "not_meets": 5})
        if entity.name == "case" and fd.name == "result":
            return self.pick(entity, fd.name, "judgment" if values.get("form_of_aid") == "TGTT"
                             else "advice_delivered")
        return super().field_value(entity, fd, values, day=day)

    def _centre(self, values: dict) -> set[int]:
        """The case's unit and its parent (a branch's centre): whose performers may be assigned."""
        u = self.unit(values.get("unit"))
        return {x for x in (values.get("unit"), u.parent_id if u else None) if x is not None}

    def transition_weight(self, entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef,
                          values: dict) -> float:
        if entity.name != "case":
            return super().transition_weight(entity, workflow, transition, values)
        if transition.name == "assign" and values.get(workflow.state_field) != "accepted":
            return 0  # no replacement of the performer in demo data
        if transition.name == "discontinue" and values.get(workflow.state_field) != "in_progress":
            return 0
        if transition.name == "archive" and values.get(workflow.state_field) != "appraised":
            return 0
        return STEPS.get(transition.name, 0)

    def stop_probability(self, entity: EntityDef, workflow: WorkflowDef, state: str, values: dict,
                         day: dt.date) -> float:
        if entity.name != "case":
            return super().stop_probability(entity, workflow, state, values, day)
        if state == workflow.initial:
            # requests of the last weeks still wait for a decision (some of them past the acceptance deadline)
            return 0.4 if not values.get("urgent") and (self.today - day).days < 21 else 0.0
        return STAYS.get(state, 0.0)

    def step_gap(self, entity: EntityDef, transition: TransitionDef, values: dict) -> tuple[int, int]:
        if entity.name != "case":
            return super().step_gap(entity, transition, values)
        if transition.name == "end":
            return (20, 240) if values.get("form_of_aid") == "TGTT" else (0, 20)
        if transition.name == "accept" and values.get("urgent"):
            return (0, 0)  # an urgent request is accepted on the day it is received
        return GAPS.get(transition.name, (0, 30))

    def step_values(self, entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef, values: dict,
                    day: dt.date) -> dict | None:
        out = super().step_values(entity, workflow, transition, values, day)
        if out is None or entity.name != "case":
            return out
        if transition.name == "assign":
            organisation = self.performer_organisation.get(out.get("performer") or values.get("performer") or 0)
            if organisation is not None and entity.has_field("organisation"):
                out["organisation"] = organisation
            if entity.has_field("assignment_decision"):
                out["assignment_decision"] = f"{self.rng.randint(1, 999)}/QĐ-TGPL"
        if transition.name == "end" and entity.has_field("successful"):
            out["successful"] = (self.rng.random() < 0.3) if values.get("form_of_aid") == "TGTT" else None
            # a successful litigation case names the effectiveness criterion it met (forms_config/quality.yaml)
            if entity.has_field("success_criteria"):
                out["success_criteria"] = (["claims_accepted"] if out["successful"]
                                           and "claims_accepted" in self.options(entity.field("success_criteria"))
                                           else None)
        return {k: v for k, v in out.items() if v is not None}
