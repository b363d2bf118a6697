"""Shared library of 密云法治服务助手: settings, text (normalise + segment), the SQLite helper,
and one package per domain: knowledge, referrals, staff, nlu (docs/architecture.md)."""
