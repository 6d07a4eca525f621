"""What this plugin says to people, in Vietnamese first and English second."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "held_before_planned": {
        "vi": "Ngày tổ chức ({held}) không được trước ngày dự kiến ({planned}).",
        "en": "The date held ({held}) cannot be before the planned date ({planned}).",
    },
    "attendees_missing": {
        "vi": "Cần ghi số người tham dự trước khi xác nhận buổi đã tổ chức.",
        "en": "Enter the number of attendees before marking the session as held.",
    },
    "summary": {
        "vi": "Năm {year}: {sessions} buổi trợ giúp pháp lý lưu động đã tổ chức, {attendees} người tham dự, "
              "tại {communes} xã, phường.",
        "en": "Year {year}: {sessions} outreach sessions held, {attendees} attendees, in {communes} communes.",
    },
    "bad_year": {
        "vi": "Năm phải từ 2000 đến 2100 (nhận được {year}).",
        "en": "The year must be between 2000 and 2100 (got {year}).",
    },
}


def text(key: str, lang: str, **params) -> str:
    """The message ``key`` in ``lang`` (Vietnamese when the language is not one of ours)."""
    entry = MESSAGES[key]
    return entry.get(lang, entry["vi"]).format(**params)


def both(key: str, **params) -> str:
    """Both languages, Vietnamese first: for the command line, whose reader's language is unknown."""
    return f"{text(key, 'vi', **params)} / {text(key, 'en', **params)}"
