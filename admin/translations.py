"""The Vietnamese translation of piccolo-admin's interface (piccolo-admin 1.14 ships none).

Every key of piccolo-admin's English translation is translated; ``tests/admin/test_translations.py`` fails when
a pinned upgrade adds a key that is missing here.
"""

from __future__ import annotations

from piccolo_admin.translations.data import ENGLISH
from piccolo_admin.translations.models import Translation

__all__ = ["VIETNAMESE", "ENGLISH", "translations", "UI_TEXTS", "UI_PATTERNS", "ui_texts"]

VIETNAMESE = Translation(
    language_name="Tiếng Việt",
    language_code="vi",
    translations={
        "About": "Giới thiệu",
        "Add Row": "Thêm bản ghi",
        "Add": "Thêm",
        "Apply": "Áp dụng",
        "Ascending": "Tăng dần",
        "Back to home page": "Về trang chủ",
        "Back": "Quay lại",
        "Change Password": "Đổi mật khẩu",
        "Clear filters": "Xóa bộ lọc",
        "Close": "Đóng",
        "Comma": "Dấu phẩy",
        "Create": "Tạo mới",
        "Current password": "Mật khẩu hiện tại",
        "Dark Mode": "Giao diện tối",
        "Days": "Ngày",
        "Delete": "Xóa",
        "Delimiter": "Dấu phân cách",
        "Descending": "Giảm dần",
        "Download": "Tải xuống",
        "Download failed": "Tải xuống không thành công",
        "Download successful": "Đã tải xuống",
        "Edit": "Sửa",
        "Export CSV": "Xuất CSV",
        "Filter": "Lọc",
        "For timestamps which are timezone aware, they will be displayed in this timezone by default.":
            "Các thời điểm có múi giờ sẽ được hiển thị theo múi giờ này.",
        "Form submitted": "Đã gửi biểu mẫu",
        "Forms": "Biểu mẫu",
        "Hide Filters": "Ẩn bộ lọc",
        "Hide referencing tables": "Ẩn các bảng liên quan",
        "Home": "Trang chủ",
        "Hours": "Giờ",
        "Light Mode": "Giao diện sáng",
        "Links": "Liên kết",
        "Loading": "Đang tải",
        "Log Out": "Đăng xuất",
        "Login": "Đăng nhập",
        "MFA Code": "Mã xác thực",
        "MFA Setup": "Cài đặt xác thực hai bước",
        "Minutes": "Phút",
        "New password confirmation": "Nhập lại mật khẩu mới",
        "New password": "Mật khẩu mới",
        "New value": "Giá trị mới",
        "No results found": "Không có kết quả",
        "Note: Large data sets may take a while.": "Lưu ý: dữ liệu lớn có thể mất nhiều thời gian.",
        "Note: They are converted to UTC when stored in the database.":
            "Lưu ý: thời điểm được chuyển sang giờ UTC khi lưu vào cơ sở dữ liệu.",
        "of": "trên",
        "page": "trang",
        "Password": "Mật khẩu",
        "result(s)": "kết quả",
        "rows": "dòng",
        "Save": "Lưu",
        "Seconds": "Giây",
        "Select a column to update": "Chọn cột cần cập nhật",
        "Select a Column": "Chọn cột",
        "Select a table in the sidebar to get started.": "Chọn một loại hồ sơ ở thanh bên để bắt đầu.",
        "selected result(s) on": "kết quả được chọn trên",
        "Semicolon": "Dấu chấm phẩy",
        "Set Timezone": "Đặt múi giờ",
        "Show Filters": "Hiện bộ lọc",
        "Show referencing tables": "Hiện các bảng liên quan",
        "Showing": "Đang hiển thị",
        "Sort by": "Sắp xếp theo",
        "Sort": "Sắp xếp",
        "Submit": "Gửi",
        "Tables": "Danh mục hồ sơ",
        "Timezone": "Múi giờ",
        "Thanks for using Piccolo Admin.": "Cảm ơn bạn đã sử dụng trang quản trị.",
        "Update": "Cập nhật",
        "Use again": "Dùng lại",
        "Username": "Tên đăng nhập",
        "Version": "Phiên bản",
        "Weeks": "Tuần",
        "Welcome to": "Chào mừng đến với",
        "with a matching": "có giá trị khớp",
    },
)

# The strings piccolo-admin's bundle shows without its translation mechanism (literal text in its templates, toasts,
# alerts and confirmations, option codes, the "empty" marker), as hoso's admin.js relabels them in the page: the
# whole text of a text node, a title, placeholder or label attribute, or an alert/confirm message equal to a key.
# A value is never a key of the same language, so relabelling a relabelled page changes nothing (no loop).
UI_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "Successfully added row": "Đã thêm bản ghi",
        "Successfully saved row": "Đã lưu bản ghi",
        "Successfully deleted row": "Đã xóa bản ghi",
        "Successfully deleted rows": "Đã xóa các bản ghi",
        "Successfully updated rows": "Đã cập nhật các bản ghi",
        "Successfully applied filter": "Đã áp dụng bộ lọc",
        "Successfully cleared filters": "Đã xóa bộ lọc",
        "The form has errors.": "Biểu mẫu có lỗi.",
        "Unable to delete the row.": "Không xóa được bản ghi.",
        "Invalid column name or value": "Tên cột hoặc giá trị không hợp lệ",
        "Are you sure you want to delete this row?": "Bạn có chắc muốn xóa bản ghi này?",
        "Are you sure you want to logout?": "Bạn có chắc muốn đăng xuất?",
        "Page not found": "Không tìm thấy trang",
        "Please select at least one column.": "Hãy chọn ít nhất một cột.",
        "Method not supported - running in read only mode.": "Thao tác không được hỗ trợ: trang đang ở chế độ chỉ xem.",
        "The server can't be reached - please try later.": "Không kết nối được máy chủ: hãy thử lại sau.",
        "MFA code required": "Cần mã xác thực",
        "Problem logging in": "Đăng nhập không thành công",
        "Error": "Lỗi",
        "Include readable": "Kèm giá trị dễ đọc",
        "Toggle all": "Chọn tất cả / bỏ chọn",
        "All": "Tất cả",
        "None": "",
        "Null": "(trống)",
        "NULL": "",
        "True": "Có",
        "False": "Không",
        "Type here to filter": "Gõ để lọc",
        "View": "Xem",
        "Remove": "Bỏ",
        "Delete selected Rows": "Xóa các bản ghi đã chọn",
        "Bulk Update": "Cập nhật hàng loạt",
        "Delete Row": "Xóa bản ghi",
        "File:": "Tệp:",
        "Translations": "Ngôn ngữ",
        "Add sort column": "Thêm cột sắp xếp",
        "Hide password": "Ẩn mật khẩu",
        "Show password": "Hiện mật khẩu",
        "Click to toggle children.": "Bấm để mở hoặc đóng",
        "Click for more info": "Bấm để xem thêm",
        "Hide forms": "Ẩn biểu mẫu",
        "Show forms": "Hiện biểu mẫu",
        "Hide links": "Ẩn liên kết",
        "Show links": "Hiện liên kết",
        "Hide tables": "Ẩn danh mục",
        "Show tables": "Hiện danh mục",
        "Equals": "Bằng",
        "Not Equal": "Khác",
        "Less Than": "Nhỏ hơn",
        "Less Than or Equal To": "Nhỏ hơn hoặc bằng",
        "Greater Than or Equal To": "Lớn hơn hoặc bằng",
        "Greater Than": "Lớn hơn",
        "contains": "Có từ bắt đầu bằng",
        "exact": "Đúng bằng",
        "starts": "Bắt đầu bằng",
        "ends": "Kết thúc bằng",
    },
    # English: piccolo-admin's own words are English already; only codes and the empty marker are relabelled
    "en": {
        "None": "",
        "Null": "(empty)",
        "NULL": "",
        "True": "Yes",
        "False": "No",
        "contains": "Has a word starting with",
        "exact": "Exactly",
        "starts": "Starts with",
        "ends": "Ends with",
    },
}

# Texts with a number or a name in them: (regular expression, replacement with $1...), per language.
UI_PATTERNS: dict[str, list[tuple[str, str]]] = {
    "vi": [
        (r"^(\d+) per page$", "$1 dòng/trang"),
        (r"^of (\d+)$", "trên $1"),
        (r"^Select a row from (.+)$", "Chọn một bản ghi: $1"),
        (r"^There are more than (\d+), are you sure you want to continue\?$",
         "Có hơn $1 dòng, bạn có chắc muốn tiếp tục?"),
        (r"^Problem fetching (.+) rows\.$", "Không tải được danh sách $1."),
        (r"^Error - (.+)$", "Lỗi: $1"),
        (r"^Changed password successfully\.[\s\S]*$", "Đã đổi mật khẩu. Hãy đăng nhập lại bằng mật khẩu mới."),
    ],
    "en": [],
}


def ui_texts(lang: str) -> dict:
    """What admin.js relabels for ``lang``: ``{"texts": {...}, "patterns": [[regex, replacement], ...]}``."""
    code = lang if lang in UI_TEXTS else "vi"
    return {"texts": UI_TEXTS[code], "patterns": [list(p) for p in UI_PATTERNS[code]]}


_BY_CODE = {"vi": VIETNAMESE, "en": ENGLISH}


def translations(default: str = "vi") -> list[Translation]:
    """The selectable translations, the default first."""
    first = _BY_CODE.get(default, VIETNAMESE)
    return [first] + [t for t in _BY_CODE.values() if t is not first]
