"""Messages shown to users, in Vietnamese and English."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"vi": "bắt buộc nhập", "en": "is required"},
    "not_an_option": {"vi": "{value!r} không có trong danh sách ({options})",
                      "en": "{value!r} is not one of the options ({options})"},
    "too_short": {"vi": "phải có ít nhất {n} ký tự", "en": "must be at least {n} characters"},
    "too_long": {"vi": "không được quá {n} ký tự", "en": "must be at most {n} characters"},
    "pattern": {"vi": "không đúng định dạng ({pattern})", "en": "does not match the pattern {pattern}"},
    "too_small": {"vi": "phải từ {n} trở lên", "en": "must be at least {n}"},
    "too_large": {"vi": "không được lớn hơn {n}", "en": "must be at most {n}"},
    "unknown_field": {"vi": "trường không tồn tại", "en": "is not a field of this record"},
    "not_unique": {"vi": "giá trị {value!r} đã được dùng", "en": "value {value!r} is already used"},
    "not_found": {"vi": "không tìm thấy bản ghi {value}", "en": "record {value} does not exist"},
    "invalid": {"vi": "giá trị không hợp lệ: {reason}", "en": "invalid value: {reason}"},
    # Command line failures (core/_cli_common.py): a headline in both languages, then the detail.
    "cli_db_url": {"vi": "địa chỉ cơ sở dữ liệu không dùng được", "en": "unusable database URL"},
    "cli_db_missing": {"vi": "cơ sở dữ liệu không tồn tại", "en": "the database does not exist"},
    "cli_db_unreachable": {"vi": "không kết nối được máy chủ cơ sở dữ liệu",
                           "en": "cannot connect to the database server"},
    "cli_db_refused": {"vi": "máy chủ cơ sở dữ liệu từ chối kết nối", "en": "the database server refused the login"},
    "cli_db_readonly": {"vi": "cơ sở dữ liệu chỉ cho phép đọc, không ghi được",
                        "en": "the database is read-only: nothing can be written"},
    "cli_disk_full": {"vi": "hết chỗ trên đĩa", "en": "the disk is full"},
    "cli_db_error": {"vi": "lỗi cơ sở dữ liệu", "en": "database error"},
    "cli_file_error": {"vi": "lỗi đọc/ghi tệp", "en": "file error"},
    "cli_migration_failed": {"vi": "không áp dụng được thay đổi, cơ sở dữ liệu giữ nguyên",
                             "en": "the change could not be applied; the database was left as it was"},
    "cli_snapshot_corrupt": {"vi": "bản ghi định nghĩa đã áp dụng bị hỏng",
                             "en": "the record of the applied definitions is damaged"},
    "cli_setting": {"vi": "giá trị cài đặt (biến môi trường) không dùng được",
                    "en": "unusable setting (environment variable)"},
    "cli_unexpected": {"vi": "lỗi không lường trước", "en": "unexpected error"},
    "cli_plugin": {"vi": "plugin không dùng được", "en": "unusable plugin"},
    "unit_unknown": {"vi": "không có đơn vị nào mang hoặc từng mang mã {code!r}",
                     "en": "no unit has, or had, the code {code!r}"},
    "unit_closed_successor": {"vi": "đơn vị {unit} đã ngừng hoạt động từ ngày {closed}; đơn vị kế tiếp: {successors}",
                              "en": "unit {unit} closed on {closed}; its successor: {successors}"},
    "unit_closed_no_successor": {"vi": "đơn vị {unit} đã ngừng hoạt động từ ngày {closed} và không có đơn vị kế tiếp",
                                 "en": "unit {unit} closed on {closed} and has no successor"},
    "unit_recoded": {"vi": "mã {old} nay là {unit}", "en": "code {old} is now {unit}"},
    # accounts (hoso.accounts, hoso.users)
    "acct_own": {"vi": "bạn không thể tự thay đổi tài khoản hoặc phân công của chính mình theo cách này",
                 "en": "you cannot change your own account or assignments this way"},
    "acct_superuser": {"vi": "chỉ quản trị hệ thống mới quản lý được tài khoản quản trị hệ thống",
                       "en": "only a superuser may manage a superuser account"},
    "acct_no_unit": {"vi": "tài khoản {username!r} không thuộc đơn vị nào bạn quản lý",
                     "en": "account {username!r} belongs to no unit you manage"},
    "acct_home_unit": {"vi": "tài khoản {username!r} thuộc đơn vị {unit!r} nằm ngoài các đơn vị bạn quản lý",
                       "en": "account {username!r} belongs to unit {unit!r}, outside the units you manage"},
    "acct_holds": {"vi": "tài khoản {username!r} đang có vai trò {role!r} tại đơn vị {unit!r} mà bạn không được cấp",
                   "en": "account {username!r} holds role {role!r} at unit {unit!r}, which you may not grant"},
    "acct_holds_future": {"vi": "tài khoản {username!r} sẽ có vai trò {role!r} tại đơn vị {unit!r} từ ngày {date} "
                                "mà bạn không được cấp",
                          "en": "account {username!r} holds role {role!r} at unit {unit!r} from {date}, which you "
                                "may not grant"},
    "acct_assignment_role": {"vi": "phân công {id} là vai trò {role!r} tại đơn vị {unit!r}, mà bạn không được cấp",
                             "en": "assignment {id} is role {role!r} at unit {unit!r}, which you may not grant"},
    "acct_no_assignment": {"vi": "không có phân công số {id}", "en": "no assignment {id}"},
    "acct_end_later": {"vi": "phân công {id} đã kết thúc ngày {current}: chỉ có thể dời ngày kết thúc sớm hơn, "
                             "không thể kéo dài hay mở lại",
                       "en": "assignment {id} already ends on {current}: an end date can only be moved earlier, "
                             "never later or re-opened"},
    "acct_end_before_start": {"vi": "ngày kết thúc {date} trước ngày bắt đầu {start} của phân công {id}",
                              "en": "the end date {date} is before assignment {id} starts ({start})"},
    "pw_too_short": {"vi": "mật khẩu phải có ít nhất {n} ký tự",
                     "en": "the password must have at least {n} characters"},
    "pw_too_weak": {"vi": "mật khẩu quá dễ đoán (từ thông dụng, chuỗi lặp hoặc liền nhau trên bàn phím, ngày tháng, "
                          "tên đăng nhập...): hãy dùng một cụm vài từ không liên quan",
                    "en": "the password is too easy to guess (a common word, a repeated or keyboard sequence, a "
                          "date, the username...): use a phrase of a few unrelated words"},
    "pw_same": {"vi": "mật khẩu mới phải khác mật khẩu hiện tại",
                "en": "the new password must differ from the current one"},
    "pw_wrong": {"vi": "mật khẩu hiện tại không đúng", "en": "the current password is wrong"},
    "pw_throttled": {"vi": "nhập sai mật khẩu hiện tại quá nhiều lần: vui lòng thử lại sau 15 phút",
                     "en": "too many wrong current passwords: try again in 15 minutes"},
    "pw_change_required": {"vi": "bạn cần đổi mật khẩu tạm trước khi tiếp tục (POST /api/me/password hoặc trong "
                                 "trang quản trị)",
                           "en": "you must change your temporary password first (POST /api/me/password, or in "
                                 "the admin)"},
    "acct_may_not_grant": {"vi": "bạn không được cấp vai trò {role!r} tại đơn vị {unit!r}",
                           "en": "you may not grant role {role!r} at unit {unit!r}"},
}


def both(key: str, **kwargs) -> str:
    """A message for the command line: Vietnamese first, then English."""
    return f"{t(key, 'vi', **kwargs)}\n{t(key, 'en', **kwargs)}"


def t(key: str, lang: str = "vi", **kwargs) -> str:
    entry = MESSAGES[key]
    template = entry.get(lang) or entry["vi"]
    return template.format(**kwargs)
