"""Every configured entity appears with its labels, its form's field order, choices and menu groups; the
interface has a Vietnamese translation, selectable and the default; admin.yaml is validated."""

from __future__ import annotations

import pytest

from hoso.admin.config import load_admin_config
from hoso.admin.translations import ENGLISH, VIETNAMESE
from hoso.config import ConfigErrors, load_config
from tests.conftest import REPO


async def test_fields_follow_the_form_with_labels_and_choices(admin):
    await admin.login("quan.tri")
    schema = (await admin.get("/tables/case/schema/")).json()
    props = schema["properties"]
    config = load_config(REPO)
    form = config.form("case_file")
    case = config.entity("case")
    on_form = [n for s in form.sections for n in s.fields if case.field(n).type != "child_table"]
    assert list(props)[:len(on_form)] == on_form  # the order of the case file form
    assert list(props)[len(on_form):] == ["sys_version"]
    assert schema["title"] == schema["extra"]["help_text"] == "Vụ việc trợ giúp pháp lý"
    assert props["received_on"]["title"] == "Ngày tiếp nhận"
    assert props["unit"]["extra"]["help_text"] == "Trung tâm hoặc Chi nhánh giữ hồ sơ"
    assert props["code"]["title"] == "Mã vụ việc (hệ thống cấp)"
    assert props["status"]["title"] == "Trạng thái (đổi qua bước quy trình)"
    assert props["form_of_aid"]["extra"]["choices"]["TV"] == {"display_name": "Tư vấn pháp luật", "value": "TV"}
    assert props["beneficiary_groups"]["extra"]["choices"]["HN"]["display_name"] == "Người thuộc hộ nghèo"
    assert props["unit"]["extra"]["foreign_key"]["to"] == "hoso_unit"
    assert props["performer"]["extra"]["foreign_key"]["to"] == "performer"
    assert "scanned_file" in schema["extra"]["media_columns"]
    assert {"requester_name", "received_on", "unit", "beneficiary_groups"} <= set(schema["required"])
    assert "code" not in schema["required"] and "status" not in schema["required"]
    assert schema["extra"]["visible_column_names"] == ["code", "status", "unit", "received_on", "requester_name",
                                                       "form_of_aid"]  # from admin.yaml
    new = (await admin.get("/tables/case/new/")).json()
    assert new["status"] == "received" and new["request_channel"] == "in_person" and new["urgent"] is False

    # a user who chose English in the admin gets English labels
    admin.client.cookies.set("hoso_admin_lang", "en")
    props = (await admin.get("/tables/case/schema/")).json()["properties"]
    assert props["received_on"]["title"] == "Received on"
    assert props["form_of_aid"]["extra"]["choices"]["TV"]["display_name"] == "Legal advice"


async def test_menu_groups_and_labels_from_config(admin):
    await admin.login("tt01.staff")
    grouped = (await admin.get("/tables/grouped/")).json()
    assert grouped == {"grouped": {"Vụ việc": ["case"], "Người thực hiện và tổ chức": ["performer", "organisation"]},
                       "ungrouped": []}
    labels = (await admin.client.get("/admin/hoso/labels/")).json()["tables"]
    assert labels["case"] == "Vụ việc trợ giúp pháp lý" and labels["hoso_unit"] == "Đơn vị"
    await admin.login("quan.tri")
    grouped = (await admin.get("/tables/grouped/")).json()
    assert grouped["grouped"]["Hệ thống"] == ["hoso_unit"]
    meta = (await admin.client.get("/admin/public/meta/")).json()
    assert meta["site_name"] == "Quản trị hồ sơ trợ giúp pháp lý"


async def test_vietnamese_is_the_default_translation_and_english_selectable(admin):
    listing = (await admin.client.get("/admin/public/translations/")).json()
    assert listing["default_language_code"] == "vi"
    assert [t["language_code"] for t in listing["translations"]] == ["vi", "en"]
    vi = await admin.client.get("/admin/public/translations/vi/")
    assert vi.json()["translations"]["Login"] == "Đăng nhập"
    assert vi.cookies["hoso_admin_lang"] == "vi"  # labels and messages follow the language picked
    en = await admin.client.get("/admin/public/translations/en/")
    assert en.status_code == 200 and en.cookies["hoso_admin_lang"] == "en"
    await admin.login("tt01.staff")
    props = (await admin.get("/tables/case/schema/")).json()["properties"]
    assert props["received_on"]["title"] == "Received on"


def test_the_vietnamese_translation_is_complete():
    missing = set(ENGLISH.translations) - set(VIETNAMESE.translations)
    assert not missing, f"piccolo-admin strings without a Vietnamese translation: {sorted(missing)}"
    assert all(VIETNAMESE.translations.values())


def test_admin_yaml_errors_name_file_line_and_key(config_dir):
    config_dir.write("forms_config/admin.yaml", """
        site_name: {vi: Quản trị}
        default_language: fr
        menu:
          - group: {vi: Hồ sơ}
            entities: [case, dossier]
        entities:
          case:
            list_columns: [code, nowhere]
            colour: red
    """)
    with pytest.raises(ConfigErrors) as info:
        load_admin_config(config_dir.load())
    text = str(info.value)
    assert "forms_config/admin.yaml:2:" in text and "default_language" in text
    assert "colour" in text
    config_dir.write("forms_config/admin.yaml", """
        menu:
          - group: {vi: Hồ sơ}
            entities: [case, dossier]
        entities:
          case:
            form: nope
            list_columns: [code, nowhere]
    """)
    with pytest.raises(ConfigErrors) as info:
        load_admin_config(config_dir.load())
    issues = {(i.line, i.path): i.message for i in info.value.issues}
    assert issues[(3, "menu.0.entities.1")] == "there is no entity 'dossier'"
    assert issues[(6, "entities.case.form")] == "entity 'case' has no form 'nope'"
    assert issues[(7, "entities.case.list_columns.1")] == "entity 'case' has no field 'nowhere' to list"
    config_dir.remove("forms_config/admin.yaml")
    defaults = load_admin_config(config_dir.load())
    assert defaults.default_language == "vi" and defaults.menu == ()
