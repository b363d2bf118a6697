"""Custom actions of 密云法治服务助手. Each module holds the actions of one concern."""
