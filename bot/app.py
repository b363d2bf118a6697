"""The gateway ASGI app: web chat always, WeChat when WECHAT_TOKEN is set, Telegram when TELEGRAM_BOT_TOKEN is."""
from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from bot.core import Conversation
from bot.documents import Documents
from bot.httputil import SecurityHeaders
from bot.logging_setup import quiet_libraries, set_salt
from bot.rasa_client import RasaClient
from bot.ratelimit import RateLimiter
from bot.webchat import WebChat
from miyun.documents.downloads import DownloadStore
from miyun.settings import PLACEHOLDER_SALTS, GatewaySettings, load as load_core, log_salt

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings, *, rasa: RasaClient | None = None,
               staff: Starlette | None = None, documents: Documents | None = None) -> Starlette:
    """Build the gateway app; nothing touches the network until the lifespan starts.

    `staff` is the staff console sub-app (console.create_console); by default it is built from the environment.
    """
    quiet_libraries()
    # The configured salt, else the install's generated one (production refuses to start without one).
    set_salt(settings.log_salt if settings.log_salt not in PLACEHOLDER_SALTS else log_salt())
    rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_timeout_s,
                              max_concurrency=settings.rasa_max_concurrency)
    if documents is None:
        core = load_core()
        documents = Documents(DownloadStore(core.documents_dir, core.document_ttl_min * 60), settings.public_base_url)
    conversation = Conversation(rasa, RateLimiter(settings.rate_limit_per_min),
                                settings.max_input_chars, documents)
    web = WebChat(conversation, settings.max_input_chars, per_ip_per_min=settings.web_per_ip_per_min,
                  new_sessions_per_ip_per_hour=settings.web_new_sessions_per_ip_per_hour,
                  trusted_proxies=settings.trusted_proxies)
    routes: list = documents.routes()
    wechat = telegram = None

    if settings.wechat_enabled:
        from bot.wechat import WeChatChannel
        from bot.wechat_api import WeChatAPI
        from bot.wechat_crypto import WeChatCrypto
        from bot.wechat_menu import load_menu

        _, menu_keys = load_menu()
        wechat = WeChatChannel(
            token=settings.wechat_token,
            conversation=conversation,
            passive_deadline_s=settings.wechat_passive_deadline_s,
            api=WeChatAPI(settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret)
            if settings.wechat_async_enabled else None,
            crypto=WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_app_id)
            if settings.wechat_aes_key else None,
            menu_keys=menu_keys,
        )
        routes += wechat.routes()

    if settings.telegram_enabled:
        from bot.tg_channel import make_channel

        telegram = make_channel(settings, conversation)
        routes += telegram.routes()

    async def healthz(request: Request) -> JSONResponse:
        """Liveness of the gateway and reachability of Rasa."""
        return JSONResponse({
            "status": "ok",
            "rasa": await rasa.healthy(),
            "channels": {"web": True, "wechat": wechat is not None, "telegram": telegram is not None},
        })

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if telegram is not None:
            await telegram.start()
        log.info("gateway_started web=on wechat=%s telegram=%s",
                 "on" if wechat else "off", telegram.mode if telegram else "off")
        try:
            async with documents.sweeping():
                yield
        finally:
            if telegram is not None:
                await telegram.stop()
            if wechat is not None:
                await wechat.aclose()
                if wechat.api is not None:
                    await wechat.api.aclose()
            await rasa.aclose()

    if staff is None:
        from console import create_console

        staff = create_console()
    routes.append(Mount("/staff", app=staff))

    app = Starlette(routes=routes + [Route("/healthz", healthz)] + web.routes(),
                    middleware=[Middleware(SecurityHeaders, hsts_max_age=settings.hsts_max_age)], lifespan=lifespan)
    app.state.settings = settings
    app.state.conversation = conversation
    app.state.rasa = rasa
    app.state.wechat = wechat
    app.state.telegram = telegram
    app.state.documents = documents
    return app
