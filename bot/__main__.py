"""`python -m bot`: run the channel gateway (uvicorn, ws disabled)."""
from __future__ import annotations


def main() -> None:
    import uvicorn

    from bot.app import create_app
    from bot.logging_setup import configure_logging
    from miyun.settings import PLACEHOLDER_SALTS, InsecureSettings, load_gateway, log_salt

    settings = load_gateway()
    try:
        salt = settings.log_salt if settings.log_salt not in PLACEHOLDER_SALTS else log_salt()
    except InsecureSettings as exc:
        raise SystemExit(f"✗ {exc}") from None
    configure_logging(settings.log_level, salt)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="none",                 # rasa's websockets 10.4 breaks uvicorn's ws support
        access_log=False,          # access lines would carry WeChat's openid query parameter
        log_config=None,           # keep configure_logging's format and filters
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
