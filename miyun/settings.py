"""Every setting, read from the environment in one place. Documented in `.env.example`."""
from __future__ import annotations

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
    # Where referrals, feedback, unanswered questions and content versions live: empty = the SQLite
    # file var/runtime.db (embedded); postgresql://user:pass@host:port/db = shared by a cluster's replicas.
    runtime_dsn: str = field(default_factory=lambda: _env("MIYUN_RUNTIME_DSN", ""), repr=False)

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
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"


def load() -> Settings:
    """Read the settings from the current environment."""
    return Settings()


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
    log_level: str = field(default_factory=lambda: _env("MIYUN_LOG_LEVEL", "INFO").upper())
    log_salt: str = field(default_factory=lambda: _env("MIYUN_LOG_SALT", ""), repr=False)

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

    def __post_init__(self) -> None:
        if self.telegram_mode not in ("polling", "webhook"):
            raise ValueError(f"TELEGRAM_MODE must be 'polling' or 'webhook', got {self.telegram_mode!r}")
        if self.telegram_enabled and self.telegram_mode == "webhook" and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        if self.wechat_aes_key and len(self.wechat_aes_key) != 43:
            raise ValueError("WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
        if self.wechat_aes_key and not self.wechat_app_id:
            raise ValueError("WECHAT_APP_ID is required when WECHAT_AES_KEY is set (safe mode checks the appid)")
        for name in ("rasa_timeout_s", "wechat_passive_deadline_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
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
    secure_cookies: bool = field(default_factory=lambda: _bool("MIYUN_STAFF_SECURE_COOKIES", False))
    login_max_per_account: int = field(default_factory=lambda: _int("MIYUN_STAFF_LOGIN_MAX_PER_ACCOUNT", 5))
    login_max_per_ip: int = field(default_factory=lambda: _int("MIYUN_STAFF_LOGIN_MAX_PER_IP", 20))
    login_window_min: float = field(default_factory=lambda: _float("MIYUN_STAFF_LOGIN_WINDOW_MIN", 15.0))
    stale_days: int = field(default_factory=lambda: _int("MIYUN_STAFF_STALE_DAYS", 365))
    # Rasa's SQLite tracker store (read-only, for the dashboard); default var/trackers.db.
    tracker_db: Path | None = field(default_factory=lambda: _optional_path("MIYUN_TRACKER_DB"))

    def __post_init__(self) -> None:
        if self.session_hours <= 0 or self.login_window_min <= 0:
            raise ValueError("MIYUN_STAFF_SESSION_HOURS and MIYUN_STAFF_LOGIN_WINDOW_MIN must be positive")
        if self.login_max_per_account < 1 or self.login_max_per_ip < 1 or self.stale_days < 1:
            raise ValueError("MIYUN_STAFF_LOGIN_MAX_PER_ACCOUNT/_PER_IP and MIYUN_STAFF_STALE_DAYS must be >= 1")

    def tracker_path(self, core: Settings) -> Path:
        """The tracker database: MIYUN_TRACKER_DB, else var/trackers.db."""
        return self.tracker_db or core.var_dir / "trackers.db"


def load_staff() -> StaffSettings:
    """Read the staff console settings from the current environment."""
    return StaffSettings()
