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
    # accounts (core.accounts, core.users)
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


def t(key: str, lang: str = "vi", **kwargs) -> str:
    entry = MESSAGES[key]
    template = entry.get(lang) or entry["vi"]
    return template.format(**kwargs)
