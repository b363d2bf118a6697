"""Referrals and the runtime store: routing rules and validation of `content/referrals.yml`
(`rules`), the one store interface (`store`) with its SQLite (`sqlite`) and PostgreSQL
(`postgres`) implementations, chosen by `runtime`, the versioned schema (`migrations`) and the
`referrals` command line (`cli`)."""
