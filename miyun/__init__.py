"""Shared library of 密云法治服务助手: settings, text normalisation, content store and search."""
