"""Messages of the record service, in Vietnamese and English (the shared ones live in hoso.i18n)."""

from __future__ import annotations

from hoso.i18n import MESSAGES as _SHARED

__all__ = ["t"]

MESSAGES: dict[str, dict[str, str]] = {
    "not_on_form": {"vi": "trường này không có trên biểu mẫu {form}", "en": "is not a field of form {form}"},
    "not_applicable": {"vi": "không áp dụng trong trường hợp này ({condition})",
                       "en": "does not apply here ({condition})"},
    "not_applicable_here": {"vi": "không áp dụng trong trường hợp này", "en": "does not apply here"},
    "rule_failed": {"vi": "không thỏa điều kiện {rule}", "en": "breaks the rule {rule}"},
    "rule_failed_hidden": {"vi": "không thỏa một quy tắc kiểm tra của hồ sơ",
                           "en": "breaks one of the record's rules"},
    "rule_over_hidden": {"vi": "giá trị này được đối chiếu với thông tin bạn không được xem; người có quyền xem "
                               "thông tin đó cần thực hiện thay đổi này",
                         "en": "this value is checked against information you may not see; someone who may see "
                               "it has to make this change"},
    "required_for_step": {"vi": "bắt buộc nhập để {step}", "en": "is required to {step}"},
    "hidden_field": {"vi": "bạn không có quyền ghi trường này", "en": "you may not write this field"},
    "read_only_field": {"vi": "bạn không có quyền sửa trường này", "en": "you may not change this field"},
    "out_of_scope": {"vi": "ngoài phạm vi đơn vị của bạn", "en": "is outside the units you work for"},
    "unit_closed": {"vi": "đơn vị {unit} đã ngừng hoạt động từ ngày {closed}{successor}",
                    "en": "unit {unit} closed on {closed}{successor}"},
    "unit_closed_dated": {"vi": "đơn vị {unit} đã ngừng hoạt động từ ngày {closed}: chỉ ghi vào đơn vị này được "
                                "hồ sơ có {date} trước ngày đó (hồ sơ này: {on}){successor}",
                          "en": "unit {unit} closed on {closed}: only records whose {date} is before that day may be "
                                "recorded under it (this record: {on}){successor}"},
    "unit_successor": {"vi": "; đơn vị kế tiếp: {units}", "en": "; its successor: {units}"},
    "unit_type": {"vi": "phải là một đơn vị thuộc loại: {allowed}", "en": "must be a unit of type: {allowed}"},
    "read_only_state": {"vi": "hồ sơ ở trạng thái {state} chỉ được xem, không được sửa",
                        "en": "a record in state {state} is read-only"},
    "state_by_workflow": {"vi": "chỉ thay đổi được qua các bước của quy trình",
                          "en": "changes only through the workflow's steps"},
    "code_by_series": {"vi": "mã do hệ thống cấp", "en": "the code is given by the naming series"},
    "use_upload": {"vi": "tệp đính kèm được tải lên riêng", "en": "files are uploaded separately"},
    "not_attachment": {"vi": "không phải trường tệp đính kèm", "en": "is not an attachment field"},
    "file_too_large": {"vi": "tệp lớn hơn giới hạn {limit}", "en": "the file is larger than the limit of {limit}"},
    "file_type": {"vi": "loại tệp {value} không được phép (cho phép: {allowed})",
                  "en": "file type {value} is not allowed (allowed: {allowed})"},
    "file_content": {"vi": "nội dung tệp không phải {value}", "en": "the file's content is not {value}"},
    "file_checksum": {"vi": "mã kiểm tra sha256 không khớp", "en": "the sha256 checksum does not match"},
    "file_empty": {"vi": "tệp rỗng", "en": "the file is empty"},
    "reason_required": {"vi": "cần ghi lý do xóa", "en": "a reason for deleting is required"},
    "unknown_transition": {"vi": "không có bước {value}", "en": "there is no step {value}"},
    "wrong_state": {"vi": "không thể {step} khi hồ sơ đang ở trạng thái {state}",
                    "en": "cannot {step} while the record is {state}"},
    "forbidden": {"vi": "bạn không có quyền {action} hồ sơ này", "en": "you may not {action} this record"},
    "record_not_found": {"vi": "không tìm thấy hồ sơ {entity} số {id}", "en": "{entity} {id} does not exist"},
    "bad_filter": {"vi": "điều kiện lọc không hợp lệ: {reason}", "en": "invalid filter: {reason}"},
    "bad_sort": {"vi": "không sắp xếp được theo {value}", "en": "cannot sort by {value}"},
    "bad_page": {"vi": "phải là số nguyên từ {low} đến {high}", "en": "must be a whole number from {low} to {high}"},
    "unknown_form": {"vi": "không có biểu mẫu {value!r} cho loại hồ sơ này",
                     "en": "there is no form {value!r} for this entity"},
}


def t(key: str, lang: str = "vi", **kwargs) -> str:
    entry = MESSAGES.get(key) or _SHARED[key]
    template = entry.get(lang) or entry["vi"]
    return template.format(**kwargs)
