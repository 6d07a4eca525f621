"""The Vietnamese translation of piccolo-admin's interface (piccolo-admin 1.14 ships none).

Every key of piccolo-admin's English translation is translated; ``tests/admin/test_translations.py`` fails when
a pinned upgrade adds a key that is missing here.
"""

from __future__ import annotations

from piccolo_admin.translations.data import ENGLISH
from piccolo_admin.translations.models import Translation

__all__ = ["VIETNAMESE", "ENGLISH", "translations"]

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

_BY_CODE = {"vi": VIETNAMESE, "en": ENGLISH}


def translations(default: str = "vi") -> list[Translation]:
    """The selectable translations, the default first."""
    first = _BY_CODE.get(default, VIETNAMESE)
    return [first] + [t for t in _BY_CODE.values() if t is not first]
