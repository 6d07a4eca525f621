"""Every ``HOSO_*`` environment variable, declared once: its type, default, allowed range and help in Vietnamese
and English. Code reads a setting only through :func:`get`, so a wrong value is refused the same way wherever it
is read, with a message naming the variable and the form it expects; ``hoso settings`` lists them all."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from hoso.i18n import t

__all__ = ["Setting", "SettingError", "SETTINGS", "get", "source", "display", "declared"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
GB = 1000 ** 3


class SettingError(ValueError):
    """An environment setting has a value that cannot be used (the message is in Vietnamese, then English)."""


@dataclass(frozen=True)
class Setting:
    """One ``HOSO_*`` variable.

    ``kind``: int, number, bool, str, path, url, list or networks. ``minimum`` is inclusive; ``positive`` refuses
    0 and below. ``unit`` names what a number counts (seconds, minutes...), shown in messages. A ``retired``
    setting is no longer read: giving it stops start-up with a message pointing at ``replacement``."""

    name: str
    kind: str
    default: Any
    help_vi: str
    help_en: str
    minimum: float | None = None
    positive: bool = False
    unit: str = ""
    secret: bool = False
    retired: bool = False
    replacement: str = ""
    default_vi: str = ""
    default_en: str = ""


def _s(name: str, kind: str, default: Any, vi: str, en: str, **kw) -> Setting:
    return Setting(name, kind, default, vi, en, **kw)


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    _s("HOSO_CONFIG", "path", None,
       "Thư mục cấu hình chứa forms_config/ và roles_config/ (như tùy chọn --config).",
       "Configuration root holding forms_config/ and roles_config/ (as the --config option).",
       default_vi="thư mục của kho mã nguồn", default_en="the repository's folder"),
    _s("HOSO_DATABASE_URL", "url", "sqlite:///var/hoso.db",
       "Địa chỉ cơ sở dữ liệu: sqlite:///đường/dẫn.db hoặc postgresql://người_dùng@máy/csdl.",
       "Database URL: sqlite:///path.db or postgresql://user@host/db.", secret=True),
    _s("HOSO_DB_POOL", "int", 10,
       "Số kết nối tối đa tới PostgreSQL của một tiến trình.",
       "Most connections one process opens to PostgreSQL.", minimum=1, unit="connections"),
    _s("HOSO_LIST_COUNT_CAP", "int", 10_000,
       "Danh sách đếm chính xác số bản ghi đến mức này; nhiều hơn thì trả lời \"hơn N\" (trừ khi hỏi count=exact).",
       "Lists count matching records exactly up to this many; beyond it they answer \"more than N\" (unless "
       "asked count=exact).", minimum=1, unit="records"),
    _s("HOSO_DEBUG", "bool", False,
       "Bật (1) để lệnh hoso in toàn bộ dấu vết lỗi thay cho thông báo ngắn gọn (dành cho người phát triển).",
       "On (1): the hoso command shows the full traceback instead of the short message (for developers)."),
    _s("HOSO_DISABLE_ENTRYPOINTS", "bool", False,
       "Bật (1) để không nạp các plugin cài đặt qua entry point (nhóm hoso), ví dụ khi chạy kiểm thử.",
       "On (1): plugins installed through entry points (group hoso) are not loaded, e.g. under test."),
    _s("HOSO_PLUGINS", "list", (),
       "Tên các mô-đun Python (cách nhau bởi dấu phẩy) được nạp làm plugin, ngoài các plugin cài qua entry point.",
       "Python modules (comma-separated) registered as plugins besides those installed through entry points."),
    _s("HOSO_BLOCK_PLUGINS", "list", (),
       "Tên các plugin (cách nhau bởi dấu phẩy) không được nạp; không thể chặn plugin thiết yếu (nhật ký, kiểm tra "
       "dữ liệu, các loại cấu hình có sẵn).",
       "Plugins (comma-separated names) not to load; the essential ones (audit, validators, the built-in "
       "configuration kinds) cannot be blocked."),
    _s("HOSO_FILES_DIR", "path", "var/files",
       "Thư mục lưu tệp đính kèm (plugin lưu trữ có sẵn).",
       "Folder where the built-in storage plugin keeps attachments."),
    _s("HOSO_FILES_CLEANUP_INTERVAL", "number", 3600.0,
       "Số giây giữa hai lần dọn tệp bị bỏ dở trong kho tệp đính kèm.",
       "Seconds between two clean-ups of the attachment storage.", minimum=1, positive=True, unit="seconds"),
    _s("HOSO_FILES_CLEANUP_AGE", "number", 86400.0,
       "Một tệp bị bỏ dở chỉ bị xóa khi đã không được ghi ít nhất chừng này giây, để không chạm vào tệp đang tải lên.",
       "A leftover file is removed only when it was last written at least this many seconds ago, so an upload in "
       "progress is never touched.", minimum=60, positive=True, unit="seconds"),
    _s("HOSO_SESSION_IDLE_MINUTES", "number", 60.0,
       "Phiên đăng nhập hết hạn sau chừng này phút không hoạt động.",
       "A login session ends after this many minutes without activity.", positive=True, unit="minutes"),
    _s("HOSO_SESSION_MAX_HOURS", "number", 24.0,
       "Phiên đăng nhập hết hạn sau chừng này giờ, dù có hoạt động.",
       "A login session ends after this many hours, active or not.", positive=True, unit="hours"),
    _s("HOSO_SECURE_COOKIE", "bool", False,
       "Bật (1) khi phục vụ qua HTTPS: cookie phiên chỉ được gửi qua HTTPS.",
       "On (1) behind HTTPS: the session cookie is sent over HTTPS only."),
    _s("HOSO_LOGIN_MAX_FAILURES", "int", 5,
       "Số lần đăng nhập sai cho phép với một tên đăng nhập và địa chỉ (gấp 10 lần với một địa chỉ) trong 15 phút; "
       "quá số đó trả lỗi 429.",
       "Failed logins allowed per username and address (10 times that per address) in 15 minutes; then 429.",
       positive=True, unit="failures"),
    _s("HOSO_TRUSTED_PROXIES", "networks", (),
       "Địa chỉ hoặc dải mạng của các reverse proxy được tin tiêu đề X-Forwarded-For, cách nhau bằng dấu phẩy.",
       "Addresses or networks of the reverse proxies whose X-Forwarded-For is believed, comma-separated."),
    _s("HOSO_TRUST_FORWARDED", "bool", False,
       "Không còn được đọc: liệt kê các reverse proxy trong HOSO_TRUSTED_PROXIES.",
       "No longer read: list the reverse proxies in HOSO_TRUSTED_PROXIES.",
       retired=True, replacement="HOSO_TRUSTED_PROXIES"),
    _s("HOSO_ALLOWED_HOSTS", "list", (),
       "Tên máy chủ công khai (kèm cổng nếu không phải cổng mặc định), cách nhau bằng dấu phẩy: trình duyệt được "
       "gửi yêu cầu ghi từ các nguồn (Origin) này khi reverse proxy chuyển tiếp một Host khác.",
       "Public host names (with the port where it is not the default), comma-separated: the origins a browser may "
       "write from when a reverse proxy passes another Host."),
    _s("HOSO_NOTIFY_DEADLINE_DAYS", "int", 3,
       "Báo trước cho người được giao hồ sơ khi thời hạn của hồ sơ còn chừng này ngày (kể cả hôm nay).",
       "The accounts linked to a record are told of its deadline this many days ahead (today included).",
       minimum=0, unit="days"),
    _s("HOSO_ADMIN_RELOAD_SECONDS", "number", 2.0,
       "Trang quản trị kiểm tra định nghĩa có thay đổi không nhiều nhất mỗi chừng này giây (0: mỗi yêu cầu).",
       "The admin checks whether the definitions changed at most every this many seconds (0: every request).",
       minimum=0, unit="seconds"),
    _s("HOSO_ADMIN_STAGING_DIR", "path", None,
       "Thư mục giữ tệp đã tải lên trang quản trị nhưng chưa lưu vào hồ sơ.",
       "Folder holding files uploaded in the admin but not yet saved with a record.",
       default_vi="HOSO_FILES_DIR/.staging (dùng chung giữa các tiến trình)",
       default_en="HOSO_FILES_DIR/.staging (shared by the processes)"),
    _s("HOSO_ADMIN_STAGING_MAX_FILES", "int", 20,
       "Số tệp chưa lưu tối đa mỗi tài khoản được giữ trên trang quản trị.",
       "Most uploaded files not yet saved one account may hold in the admin.", positive=True, unit="files"),
    _s("HOSO_ADMIN_STAGING_MAX_BYTES", "int", 8 * GB,
       "Tổng dung lượng (byte) tối đa của các tệp chưa lưu của một tài khoản trên trang quản trị.",
       "Most bytes of uploaded files not yet saved one account may hold in the admin.", positive=True,
       unit="bytes"),
    _s("HOSO_ADMIN_STAGING_HOURS", "number", 24.0,
       "Tệp đã tải lên mà không ai lưu sẽ hết hạn sau chừng này giờ.",
       "An uploaded file nobody saved expires after this many hours.", positive=True, unit="hours"),
    _s("HOSO_LOG_FORMAT", "str", "plain",
       "Định dạng nhật ký của hoso serve: json (mỗi dòng một đối tượng JSON, cho hệ thống thu thập nhật ký) hoặc "
       "plain (văn bản dễ đọc).",
       "Log format of hoso serve: json (one JSON object per line, for a log collector) or plain (readable text)."),
    _s("HOSO_METRICS_TOKEN", "str", None,
       "Mã bí mật để đọc /metrics (tiêu đề Authorization: Bearer <mã>). Không đặt mã và không đặt "
       "HOSO_METRICS_NETWORKS thì không ai đọc được /metrics.",
       "Secret token that reads /metrics (header Authorization: Bearer <token>). With neither it nor "
       "HOSO_METRICS_NETWORKS set, nobody may read /metrics.", secret=True),
    _s("HOSO_METRICS_NETWORKS", "networks", (),
       "Địa chỉ hoặc dải mạng (cách nhau bằng dấu phẩy) được đọc /metrics không cần mã, ví dụ máy Prometheus.",
       "Addresses or networks (comma-separated) that may read /metrics without the token, e.g. the Prometheus "
       "server."),
    _s("HOSO_READY_CACHE_SECONDS", "number", 2.0,
       "/readyz giữ kết quả kiểm tra trong chừng này giây trước khi hỏi lại cơ sở dữ liệu (0: mỗi lần hỏi).",
       "/readyz keeps its checks' result this many seconds before asking the database again (0: every call).",
       minimum=0, unit="seconds"),
    _s("HOSO_SERVED_HOSTS", "list", (),
       "Các giá trị tiêu đề Host được phục vụ (ví dụ hoso.example.vn,*.hoso.example.vn), cách nhau bằng dấu phẩy; "
       "yêu cầu với Host khác bị từ chối (400). Để trống: mọi Host.",
       "Host header values served (e.g. hoso.example.vn,*.hoso.example.vn), comma-separated; a request with another "
       "Host is refused (400). Empty: any Host."),
    _s("HOSO_DB_CONNECT_TIMEOUT", "number", 5.0,
       "Số giây tối đa chờ mở một kết nối tới PostgreSQL; quá thời gian đó yêu cầu nhận lỗi 503 thay vì treo.",
       "Most seconds spent opening a connection to PostgreSQL; past it the request gets a 503 instead of hanging.",
       positive=True, unit="seconds"),
    _s("HOSO_EMBEDDED_WORKER", "bool", True,
       "Bật (1): hoso serve tự chạy công việc nền và công việc định kỳ trong tiến trình ứng dụng (SQLite, một "
       "máy). Tắt (0) khi có các tiến trình hoso worker riêng.",
       "On (1): hoso serve runs the background jobs and scheduled work inside the application process (SQLite, "
       "one machine). Off (0) where separate hoso worker processes run them."),
    _s("HOSO_WORKER_STOP_SECONDS", "number", 30.0,
       "Khi nhận SIGTERM, hoso worker ngừng nhận việc mới và chờ các công việc đang chạy xong trong tối đa chừng "
       "này giây; quá thời gian đó (hoặc khi nhận SIGTERM lần hai) chúng bị dừng và sẽ được chạy lại.",
       "On SIGTERM, hoso worker takes no new job and waits up to this many seconds for the jobs running to end; "
       "past it (or on a second SIGTERM) they are cut short, and run again later.", positive=True, unit="seconds"),
    _s("HOSO_JOBS_POLL_SECONDS", "number", 1.0,
       "Một tiến trình chạy công việc nền đang rảnh tìm công việc đến hạn mỗi chừng này giây.",
       "An idle job worker looks for due jobs every this many seconds.", positive=True, unit="seconds"),
    _s("HOSO_DEFINITIONS_POLL_SECONDS", "number", 2.0,
       "Mỗi tiến trình kiểm tra định nghĩa đã áp dụng trong cơ sở dữ liệu mỗi chừng này giây; sau `hoso migrate` "
       "mọi tiến trình chuyển sang định nghĩa mới trong khoảng thời gian này, không cần khởi động lại.",
       "Every process checks the definitions applied to the database every this many seconds; after `hoso migrate` "
       "every process moves to the new definitions within about this time, without a restart.",
       minimum=0.1, positive=True, unit="seconds"),
    _s("HOSO_WORKERS", "int", 1,
       "Số tiến trình ứng dụng `hoso serve` chạy (như tùy chọn --workers).",
       "How many application processes `hoso serve` runs (as the --workers option).", minimum=1,
       unit="processes"),
    _s("HOSO_EXPORTS_DIR", "path", "var/exports",
       "Thư mục lưu tệp báo cáo xuất trong nền (dùng chung cho mọi tiến trình hoso serve và hoso worker).",
       "Folder keeping the report files exported in the background (shared by every hoso serve and hoso worker "
       "process)."),
    _s("HOSO_JOBS_KEEP_DAYS", "number", 7.0,
       "Công việc nền đã xong (và tệp báo cáo xuất của chúng) được giữ chừng này ngày rồi bị xóa.",
       "Background jobs that are done (and their exported report files) are kept this many days, then removed.",
       positive=True, unit="days"),
    _s("HOSO_IMPORT_MAX_BYTES", "int", 50 * 1000 ** 2,
       "Dung lượng (byte) tối đa của một tệp nhập (CSV hoặc XLSX; với XLSX: cả dung lượng sau khi giải nén).",
       "Most bytes of one import file (CSV or XLSX; for XLSX also once unpacked).", positive=True, unit="bytes"),
    _s("HOSO_IMPORT_MAX_ROWS", "int", 200_000,
       "Số dòng tối đa của một tệp nhập.", "Most rows of one import file.", positive=True, unit="rows"),
    _s("HOSO_VNEID_URL", "str", None,
       "Địa chỉ nhận kết quả trợ giúp pháp lý của VNeID (mô-đun legal_aid.vneid); trống: kết quả chờ trong hàng đợi "
       "và được báo là chưa cấu hình.",
       "The VNeID address that receives legal-aid results (module legal_aid.vneid); empty: results wait in the "
       "queue and are reported as not configured."),
    _s("HOSO_IMPORTS_DIR", "path", "var/imports",
       "Thư mục giữ tệp nhập đã tải lên trên trang quản trị cho tới khi nhập xong (dùng chung cho mọi tiến trình "
       "hoso serve và hoso worker).",
       "Folder keeping the files uploaded to the admin's import page until their import ends (shared by every "
       "hoso serve and hoso worker process)."),
    # population database lookup
    _s("HOSO_POPULATION_URL", "url", None,
       "Địa chỉ dịch vụ tra cứu Cơ sở dữ liệu quốc gia về dân cư (hoặc máy chủ thay thế `hoso population-standin`); "
       "trống: không tra cứu, hồ sơ giữ thông tin đã nhập và chưa được xác minh.",
       "Address of the national population database lookup service (or the `hoso population-standin` stand-in); "
       "empty: no lookup, records keep what was entered and stay unverified."),
    _s("HOSO_POPULATION_TIMEOUT", "number", 2.0,
       "Thời gian chờ tối đa một lần tra cứu dân cư; quá hạn thì tiếp nhận vẫn tiếp tục, hồ sơ chờ xác minh lại.",
       "Longest wait for one population lookup; past it intake goes on and the record is verified later.",
       positive=True, unit="seconds"),
)}


def declared(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not a declared setting (hoso.settings.SETTINGS)") from None


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _raw(name: str, env: Mapping[str, str] | None) -> str | None:
    raw = _env(env).get(name)
    return None if raw is None or raw.strip() == "" else raw


def source(name: str, env: Mapping[str, str] | None = None) -> str:
    """Where the value of ``name`` comes from: ``environment`` or ``default``."""
    declared(name)
    return "environment" if _raw(name, env) is not None else "default"


def get(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The value of setting ``name``, parsed and checked; its default when unset or blank. Raises
    :class:`SettingError` naming the variable and the form it expects."""
    setting = declared(name)
    for old in SETTINGS.values():
        if old.retired and old.replacement == name and _raw(old.name, env) is not None:
            raise _retired(old)
    raw = _raw(name, env)
    if raw is None:
        return setting.default
    return _PARSERS[setting.kind](setting, raw.strip())


def _error(key: str, **params) -> SettingError:
    return SettingError(f"{t(key, 'vi', **params)}\n{t(key, 'en', **params)}")


def _retired(old: Setting) -> SettingError:
    new = SETTINGS[old.replacement]
    helps = {"vi": new.help_vi, "en": new.help_en}
    return SettingError("\n".join(t("setting_retired", lang, name=old.name, replacement=new.name,
                                     help=helps[lang].rstrip(".")) for lang in ("vi", "en")))


def _unit(setting: Setting, lang: str) -> str:
    return t(f"setting_unit_{setting.unit}", lang) if setting.unit else ""


def _number_error(setting: Setting, raw: str, key: str, **params) -> SettingError:
    return SettingError("\n".join(
        t(key, lang, name=setting.name, raw=repr(raw), unit=_unit(setting, lang), **params) for lang in ("vi", "en")))


def _number(setting: Setting, raw: str) -> float:
    whole = setting.kind == "int"
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise _number_error(setting, raw, "setting_whole" if whole else "setting_number") from None
    if not math.isfinite(value):
        raise _number_error(setting, raw, "setting_number")
    if setting.positive and value <= 0:
        raise _number_error(setting, raw, "setting_positive")
    if setting.minimum is not None and value < setting.minimum:
        raise _number_error(setting, raw, "setting_minimum", minimum=f"{setting.minimum:g}")
    return value


def _flag(setting: Setting, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _error("setting_flag", name=setting.name, raw=repr(raw))


def _items(setting: Setting, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(setting: Setting, raw: str) -> tuple:
    out = []
    for part in _items(setting, raw):
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise _error("setting_network", name=setting.name, raw=repr(part)) from None
    return tuple(out)


_PARSERS = {
    "int": _number, "number": _number, "bool": _flag, "list": _items, "networks": _networks,
    "str": lambda s, raw: raw, "path": lambda s, raw: raw, "url": lambda s, raw: raw,
}


def display(name: str, value: Any) -> str:
    """``value`` of setting ``name`` as ``hoso settings`` shows it: a secret URL's password masked."""
    setting = declared(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if setting.secret:
        return _mask(text) if setting.kind == "url" else "***"
    return text


def _mask(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)).geturl()
