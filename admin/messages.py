"""Messages of the admin integration, in Vietnamese and English."""

from __future__ import annotations

__all__ = ["m", "MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "stale": {"vi": "Hồ sơ đã được người khác sửa (phiên bản hiện tại: {current}). Hãy tải lại trang rồi sửa lại.",
              "en": "Someone else changed the record (its version is now {current}). Reload the page and try again."},
    "forbidden": {"vi": "Bạn không có quyền thực hiện thao tác này.", "en": "You may not do this."},
    "not_found": {"vi": "Không tìm thấy hồ sơ.", "en": "No such record."},
    "no_table": {"vi": "Không có loại hồ sơ này.", "en": "No such table."},
    "bad_filter": {"vi": "Không lọc được theo trường {name}.", "en": "Cannot filter by {name}."},
    "bad_sort": {"vi": "Không sắp xếp được theo trường {name}.", "en": "Cannot sort by {name}."},
    "bad_version": {"vi": "phiên bản phải là một số nguyên", "en": "the version must be a whole number"},
    "read_only_table": {"vi": "Bảng này chỉ để xem.", "en": "This table is read-only."},
    "deleted_in_admin": {"vi": "Xóa trên trang quản trị", "en": "Deleted in the admin"},
    "required": {"vi": "bắt buộc nhập", "en": "is required"},
    "read_only_mark": {"vi": "chỉ xem", "en": "read-only"},
    "system_mark": {"vi": "hệ thống cấp", "en": "given by the system"},
    "workflow_mark": {"vi": "đổi qua bước quy trình", "en": "changes through workflow steps"},
    "retired_mark": {"vi": "ngừng dùng", "en": "retired"},
    "version": {"vi": "Phiên bản", "en": "Version"},
    "version_help": {"vi": "Dùng để phát hiện sửa đồng thời; không cần sửa.",
                     "en": "Detects concurrent changes; leave as it is."},
    "id": {"vi": "Số hiệu", "en": "ID"},
    "position": {"vi": "Thứ tự", "en": "Position"},
    "record": {"vi": "Hồ sơ (mã hoặc số hiệu)", "en": "Record (code or ID)"},
    "record_help": {"vi": "Mã hồ sơ (ví dụ TT-01.TV.01.2025) hoặc số hiệu của hồ sơ",
                    "en": "The record's code (e.g. TT-01.TV.01.2025) or its ID"},
    "expected_version": {"vi": "Phiên bản đang xem (không bắt buộc)", "en": "Version you looked at (optional)"},
    "expected_version_help": {"vi": "Nếu nhập, thao tác bị từ chối khi hồ sơ đã được sửa sau phiên bản này.",
                              "en": "When given, the step is refused if the record changed after this version."},
    "transition_done": {"vi": "Đã thực hiện “{step}” cho hồ sơ {record}: trạng thái mới là {state}.",
                        "en": "“{step}” done for record {record}: its state is now {state}."},
    "transition_group": {"vi": "Quy trình: {entity}", "en": "Workflow: {entity}"},
    "transition_form": {"vi": "{step} ({entity})", "en": "{step} ({entity})"},
    "transition_description": {"vi": "Chuyển hồ sơ từ trạng thái {states} sang {to}. Cần nhập: {requires}.",
                               "en": "Moves a record from {states} to {to}. Needs: {requires}."},
    "nothing": {"vi": "không có", "en": "nothing"},
    "record_unknown": {"vi": "Không tìm thấy hồ sơ {value} trong phạm vi của bạn.",
                       "en": "No record {value} within your scope."},
    "ambiguous": {"vi": "“{value}” khớp với nhiều hồ sơ: hãy nhập số hiệu.",
                  "en": "“{value}” matches several records: give the ID."},
    "history": {"vi": "Lịch sử hồ sơ", "en": "Record history"},
    "history_of": {"vi": "Lịch sử của hồ sơ {record}", "en": "History of record {record}"},
    "files": {"vi": "Tệp đính kèm", "en": "Attachments"},
    "steps": {"vi": "Các bước có thể thực hiện", "en": "Steps you can take"},
    "no_steps": {"vi": "Không có bước nào bạn có thể thực hiện lúc này.", "en": "No step you can take now."},
    "login_needed": {"vi": "Cần đăng nhập.", "en": "Please log in."},
    "back": {"vi": "Quay lại trang quản trị", "en": "Back to the admin"},
    "when": {"vi": "Thời điểm", "en": "When"},
    "who": {"vi": "Người thực hiện", "en": "Who"},
    "what": {"vi": "Thao tác", "en": "Action"},
    "changes": {"vi": "Thay đổi", "en": "Changes"},
    "file_name": {"vi": "Tên tệp", "en": "File"},
    "file_version": {"vi": "Bản", "en": "Version"},
    "file_size": {"vi": "Dung lượng", "en": "Size"},
    "uploaded_at": {"vi": "Tải lên lúc", "en": "Uploaded at"},
    "form_failed": {"vi": "Không thực hiện được: {reason}", "en": "Could not be done: {reason}"},
    "workflow": {"vi": "Quy trình", "en": "Workflow"},
    "body_too_large": {"vi": "Nội dung yêu cầu quá lớn (tối đa {limit}).",
                       "en": "The request body is too large (at most {limit})."},
    "staging_forbidden": {"vi": "Bạn không có quyền tải tệp lên cho trường này.",
                          "en": "You may not upload a file for this field."},
    "staging_too_large": {"vi": "Tệp {name} vượt quá dung lượng cho phép ({limit}).",
                          "en": "The file {name} is larger than allowed ({limit})."},
    "staging_quota": {"vi": "Bạn đã tải lên quá {limit} tệp chưa lưu; hãy lưu hồ sơ hoặc chờ tệp cũ hết hạn.",
                      "en": "You hold more than {limit} of uploaded files not yet saved; save the record or wait "
                            "for them to expire."},
    "staging_files": {"vi": "Bạn đang có {n} tệp tải lên chưa lưu (tối đa); hãy lưu hồ sơ hoặc chờ tệp cũ hết hạn.",
                      "en": "You hold {n} uploaded files not yet saved (the most allowed); save the record or wait "
                            "for them to expire."},
}


def m(key: str, lang: str = "vi", **kw) -> str:
    entry = MESSAGES[key]
    return (entry.get(lang) or entry["vi"]).format(**kw)
