"""Telegram channel on python-telegram-bot 22: polling locally, webhook (`/telegram/webhook`) in production.

(Named tg_channel, not telegram, so it does not shadow the library.)
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.core import Conversation, Turn
from bot.documents import NOT_FOUND, document_of
from bot.httputil import BodyTooLarge, read_limited
from bot.inputs import is_payload, location_payload
from bot.render import render_telegram

log = logging.getLogger(__name__)

UNSUPPORTED_TEXT = (
    "抱歉，我目前只能读懂文字和位置。请直接输入您的问题，例如“古北口镇的法律服务站在哪”，"
    "或发送您的位置查找附近的法律服务站。"
)
UNKNOWN_COMMAND_TEXT = "可用的命令：/start 开始，/help 或 /menu 查看我能做什么。也可以直接输入您的问题。"
EXPIRED_BUTTON_TEXT = "这个按钮已过期，请重新提问，或发送 /menu 查看我能做什么。"
BAD_LOCATION_TEXT = "抱歉，没有读到有效的位置，请重新发送。"
# Groups share one conversation (one form, one referral summary) among all members: private chats only.
GROUP_REFUSAL_TEXT = "为保护您的隐私，本助手只在私聊中回答。请点开助手头像发私信咨询，或拨打12348公共法律服务热线。"
GROUP_REFUSAL_EVERY_S = 3600.0    # at most one refusal per group per hour (then it leaves the group)

CALLBACK_MAX_BYTES = 64           # Telegram's callback_data limit
MAX_WEBHOOK_BYTES = 1_000_000
_STATE_KEY = "miyun_gateway"
_MESSAGES = filters.UpdateType.MESSAGES    # new and edited messages; channel posts are ignored


class CallbackStore:
    """Short ids for payloads longer than callback_data allows (bounded, oldest evicted)."""

    def __init__(self, max_items: int = 100_000, ttl_s: float = 7 * 86400) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def encode(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= CALLBACK_MAX_BYTES and not payload.startswith("#"):
            return payload
        short = "#" + secrets.token_urlsafe(12)
        self._data[short] = (time.monotonic() + self.ttl_s, payload)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)
        return short

    def decode(self, data: str) -> str | None:
        if data.startswith("#"):
            entry = self._data.get(data)
            if entry is None or time.monotonic() > entry[0]:
                return None
            return entry[1]
        return data if is_payload(data) else None


@dataclass
class TelegramState:
    """What the handlers need, kept in `application.bot_data`."""
    conversation: Conversation
    callbacks: CallbackStore = field(default_factory=CallbackStore)
    refused_groups: OrderedDict = field(default_factory=OrderedDict)   # chat id -> last refusal (monotonic)


def _state(context: ContextTypes.DEFAULT_TYPE) -> TelegramState:
    return context.application.bot_data[_STATE_KEY]


def _sender(chat_id: int) -> str:
    return f"tg:{chat_id}"


async def send_turn(context: ContextTypes.DEFAULT_TYPE, chat_id: int, turn: Turn) -> None:
    """Render a turn and send it: one sendMessage per part, buttons as an inline keyboard."""
    callbacks = _state(context).callbacks
    for out in render_telegram(turn.messages, turn.note, turn.script):
        markup = None
        if out.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.title, callback_data=callbacks.encode(b.payload))] for b in out.buttons]
            )
        await _send_with_retry(context, chat_id, out.text, markup)
    documents = _state(context).conversation.documents
    if documents is None:
        return
    for message in turn.messages:
        doc = document_of(message)
        if doc is None:
            continue
        for filename, data in documents.files_for(doc, _sender(chat_id)):
            await context.bot.send_document(chat_id=chat_id, document=InputFile(data, filename=filename),
                                            filename=filename)
        if doc.get("text"):
            for out in render_telegram([{"text": documents.text(doc, _sender(chat_id)) or NOT_FOUND}]):
                await _send_with_retry(context, chat_id, out.text, None)


async def _send_with_retry(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str,
                           markup: InlineKeyboardMarkup | None) -> None:
    """sendMessage, retried once after flood control (<= 5 s wait) or a network error."""
    for attempt in range(2):
        try:
            await context.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
            return
        except RetryAfter as exc:
            wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else exc.retry_after
            if attempt or wait > 5:
                raise
            await asyncio.sleep(wait)
        except NetworkError:
            if attempt:
                raise
            await asyncio.sleep(0.5)


def _private(chat) -> bool:
    return chat is not None and chat.type == "private"


def _not_private(update: Update) -> bool:
    """The update comes from a group, supergroup or channel (a button under a group message included)."""
    if update.callback_query is not None:
        message = update.callback_query.message
        return message is not None and not _private(message.chat)
    return update.effective_chat is not None and not _private(update.effective_chat)


async def private_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: anything not from a private chat never reaches Rasa.

    A group gets one short refusal (at most hourly) and the bot leaves it; a button pressed under a
    group message gets the refusal as an alert.
    """
    if not isinstance(update, Update) or not _not_private(update):
        return
    chat = update.effective_chat
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(GROUP_REFUSAL_TEXT, show_alert=True)
        except TelegramError:
            pass
        raise ApplicationHandlerStop
    refused, now = _state(context).refused_groups, time.monotonic()
    if chat is not None and now - refused.get(chat.id, -GROUP_REFUSAL_EVERY_S) >= GROUP_REFUSAL_EVERY_S:
        refused[chat.id] = now
        while len(refused) > 10_000:
            refused.popitem(last=False)
        log.info("telegram_group_refused type=%s", chat.type)
        try:
            if chat.type != "channel":
                await context.bot.send_message(chat_id=chat.id, text=GROUP_REFUSAL_TEXT)
            await context.bot.leave_chat(chat_id=chat.id)
        except TelegramError as exc:
            log.warning("telegram_group_refusal_failed error=%s", type(exc).__name__)
    raise ApplicationHandlerStop


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: greet the user."""
    chat_id = update.effective_chat.id
    await send_turn(context, chat_id, await _state(context).conversation.payload(_sender(chat_id), "/greet"))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help and /menu: say what the assistant can do."""
    chat_id = update.effective_chat.id
    turn = await _state(context).conversation.payload(_sender(chat_id), "/ask_capabilities")
    await send_turn(context, chat_id, turn)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed (or edited) text message: ask Rasa."""
    chat_id = update.effective_chat.id
    text = update.effective_message.text or ""
    await send_turn(context, chat_id, await _state(context).conversation.text(_sender(chat_id), text))


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A shared location: ask Rasa for the nearest station."""
    chat_id = update.effective_chat.id
    loc = update.effective_message.location
    payload = location_payload(loc.latitude, loc.longitude)
    conv = _state(context).conversation
    turn = conv.static(_sender(chat_id), BAD_LOCATION_TEXT) if payload is None \
        else await conv.payload(_sender(chat_id), payload)
    await send_turn(context, chat_id, turn)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An inline-keyboard press: send the button's payload."""
    query = update.callback_query
    try:
        await query.answer()
    except TelegramError:
        pass                                    # the spinner is cosmetic; still answer the press
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    payload = _state(context).callbacks.decode(query.data or "")
    conv = _state(context).conversation
    turn = conv.static(_sender(chat_id), EXPIRED_BUTTON_TEXT) if payload is None \
        else await conv.payload(_sender(chat_id), payload)
    await send_turn(context, chat_id, turn)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other /command: list the commands."""
    chat_id = update.effective_chat.id
    await send_turn(context, chat_id, _state(context).conversation.static(_sender(chat_id), UNKNOWN_COMMAND_TEXT))


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice and other non-text messages: a polite note."""
    chat_id = update.effective_chat.id
    await send_turn(context, chat_id, _state(context).conversation.static(_sender(chat_id), UNSUPPORTED_TEXT))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log handler errors without message content."""
    log.error("telegram_handler_error error=%s", type(context.error).__name__)


def build_application(token: str, conversation: Conversation, *, api_base: str, webhook: bool,
                      concurrency: int = 64) -> Application:
    """Wire the handlers into a PTB Application (no job queue; no updater in webhook mode)."""
    file_base = api_base[: -len("/bot")] + "/file/bot" if api_base.endswith("/bot") else api_base
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(api_base)
        .base_file_url(file_base)
        .job_queue(None)
        .concurrent_updates(concurrency)
        .request(HTTPXRequest(connection_pool_size=concurrency, read_timeout=10.0, pool_timeout=10.0))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=30.0))
    )
    if webhook:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data[_STATE_KEY] = TelegramState(conversation=conversation)
    # Group -1 runs first and stops every other handler for non-private chats.
    app.add_handler(TypeHandler(Update, private_only), group=-1)
    app.add_handler(CommandHandler("start", on_start, filters=_MESSAGES))
    app.add_handler(CommandHandler(["help", "menu"], on_help, filters=_MESSAGES))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(_MESSAGES & filters.LOCATION, on_location))
    app.add_handler(MessageHandler(_MESSAGES & filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(_MESSAGES & filters.COMMAND, on_unknown_command))
    app.add_handler(MessageHandler(_MESSAGES, on_other))
    app.add_error_handler(on_error)
    return app


class TelegramChannel:
    """Owns the Application's life cycle and the webhook route."""

    def __init__(self, app: Application, *, mode: str, webhook_secret: str = "", webhook_url: str = "") -> None:
        self.app = app
        self.mode = mode
        self._secret = webhook_secret.encode("utf-8")
        self.webhook_url = webhook_url
        self.ready = asyncio.Event()
        self._starter: asyncio.Task | None = None

    def routes(self) -> list[Route]:
        return [Route("/telegram/webhook", self.webhook, methods=["POST"])] if self.mode == "webhook" else []

    async def start(self) -> None:
        """Start in the background: an unreachable Telegram must not stop the web chat or WeChat."""
        self._starter = asyncio.create_task(self._start_with_retries())

    async def _start_with_retries(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.app.initialize()            # getMe
                break
            except TelegramError as exc:
                log.warning("telegram_init_failed error=%s retry_in=%.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        await self.app.start()
        if self.mode == "polling":
            await self.app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        elif self.webhook_url:
            await self.app.bot.set_webhook(self.webhook_url, secret_token=self._secret.decode("utf-8"),
                                           allowed_updates=Update.ALL_TYPES)
        self.ready.set()
        log.info("telegram_started mode=%s", self.mode)

    async def stop(self) -> None:
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
        if not self.ready.is_set():
            return
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def webhook(self, request: Request) -> Response:
        """Telegram's POST: check the secret token (constant time, on bytes), then queue the update."""
        header = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not self._secret or not hmac.compare_digest(header.encode("latin-1", "replace"), self._secret):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            body = await read_limited(request, MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an Update")
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return PlainTextResponse("bad request", status_code=400)
        if update is None:
            return PlainTextResponse("bad request", status_code=400)
        await self.app.update_queue.put(update)
        return PlainTextResponse("ok")


def make_channel(settings, conversation: Conversation) -> TelegramChannel:
    """TelegramChannel from GatewaySettings."""
    webhook = settings.telegram_mode == "webhook"
    app = build_application(settings.telegram_bot_token, conversation,
                            api_base=settings.telegram_api_base, webhook=webhook)
    return TelegramChannel(app, mode=settings.telegram_mode, webhook_secret=settings.telegram_webhook_secret,
                           webhook_url=settings.telegram_webhook_url)

