"""`content`: the staff command line for the knowledge base. See content/README.md."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from typing import Optional, Sequence

from miyun import settings as settings_mod
from miyun.knowledge import answers, matcher, publish, unanswered
from miyun.knowledge import content as content_mod
from miyun.knowledge.build import ContentInvalid
from miyun.knowledge.store import ContentStore
from miyun.referrals.runtime import runtime_for
from miyun.text import load_dictionary


def _print_problems(problems: list) -> None:
    for p in problems:
        print(f"✗ {p}")
    print(f"\n{len(problems)} 个问题 / problem(s). 请修改后重试 / fix them and run again.")


def cmd_validate(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Check every content file; each error names file, entry and field."""
    loaded = content_mod.load(cfg.content_dir)
    if loaded.problems:
        _print_problems(loaded.problems)
        return 1
    print(
        f"✓ 内容有效 / content valid: {len(loaded.articles)} articles, {len(loaded.services)} services, "
        f"{len(loaded.stations)} stations, {len(loaded.synonyms)} synonym groups"
    )
    return 0


def cmd_build(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Build the staging database (what `publish` would make live)."""
    try:
        meta = publish.build_staging(cfg)
    except ContentInvalid as exc:
        _print_problems(exc.problems)
        return 1
    print(f"✓ built {publish.staging_path(cfg)}: {meta['articles']} articles, checksum {meta['checksum'][:12]}")
    return 0


def cmd_diff(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """What the sources change compared with the published version."""
    try:
        changes = publish.source_diff(cfg)
    except ContentInvalid as exc:
        _print_problems(exc.problems)
        return 1
    if not changes:
        print("与已发布版本相同 / no changes against the published version")
        return 0
    for table, d in changes.items():
        for ident in d["added"]:
            print(f"+ {table}/{ident}")
        for ident in d["removed"]:
            print(f"- {table}/{ident}")
        for ident, fields in d["changed"].items():
            print(f"~ {table}/{ident}: {', '.join(fields)}")
    return 0


def cmd_publish(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Validate, build, swap in atomically and record a version."""
    try:
        result = publish.publish(cfg, args.by, args.note)
    except ContentInvalid as exc:
        _print_problems(exc.problems)
        return 1
    if not result.changed:
        print(f"无变化，未发布新版本 / nothing changed (checksum {result.checksum[:12]})")
        return 0
    print(f"✓ 已发布第{result.version}版 / published v{result.version} ({result.checksum[:12]}) by {args.by}")
    return 0


def cmd_rollback(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Make an earlier version live again."""
    try:
        result = publish.rollback(cfg, args.by, args.version, force=args.force)
    except publish.RollbackError as exc:
        print(f"✗ {exc}")
        return 1
    if not result.changed:
        print("该版本已经是当前版本 / that version is already live")
        return 0
    print(f"✓ 已回滚，记录为第{result.version}版；content/ 文件也已恢复 / rolled back, recorded as v{result.version} ({result.checksum[:12]}); content/ files restored")
    return 0


def cmd_versions(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """The version history."""
    current = publish.live_checksum(cfg)
    for v in runtime_for(cfg).versions():
        mark = "*" if v["checksum"] == current else " "
        counts = {t: sum(len(x) for x in d.values()) for t, d in v["changes"].items()}
        print(f"{mark} v{v['version']:<4} {v['created_at']}  {v['action']:<8} {v['published_by']}: {v['note']}  {counts}")
    return 0


def cmd_search(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Show exactly what the bot would answer to a question, with scores."""
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(cfg.content_db if not args.staging else publish.staging_path(cfg))
    result = matcher.match(store, args.question)
    params = matcher.Parameters.load()
    print(f"问题要点 / focused: {result.focused}")
    print(f"查询词 / terms: {' '.join(dict.fromkeys(result.terms))}")
    print(f"置信度 / confidence: {result.confidence:.3f} (回答阈值 / answer at {params.answer_at}; "
          f"两项接近时追问 / clarify at {params.clarify_at}; “可能是” / likely at {params.likely_at}; "
          f"前三项合计时问“哪一个” / suggest at {params.suggest_at}) → {result.decision}")
    for i, c in enumerate(result.candidates[: args.limit], 1):
        print(f"  {i}. {c.id:<36} p={c.probability:.3f} bm25={c.bm25:.3f} sim={c.features['sim_max']:.2f}  {c.article['title']}")
    print("\n--- 机器人会回答 / the bot would answer ---")
    if result.decision == matcher.ANSWER:
        print(answers.article_text(result.best.article, full=False))
        for c in result.related():
            print(f"[相关] {c.article['title']}")
    elif result.decision == matcher.LIKELY:
        print(answers.likely_text(result.best.article))
        print("[按钮] 不是这个，问12348（问题也记入未答问题 / also logged as unanswered）")
    elif result.decision == matcher.CLARIFY:
        first, second = result.options
        print(answers.clarifying_question(first.article, second.article))
        print(f"[按钮] {first.article['title']} | {second.article['title']} | 都不是，问12348")
    elif result.decision == matcher.SUGGEST:
        options = [c.article for c in result.options]
        print(answers.suggestion_question(options))
        print(f"[按钮] {' | '.join(a['title'] for a in options)} | 都不是，问12348（问题也记入未答问题 / also logged as unanswered）")
    else:
        print("（没有有把握的答案：会给出12348和法律援助，并记录到未答问题 / no confident answer: fallback, logged）")
    return 0


def cmd_unanswered(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """The top unanswered questions, grouped and counted; optionally as CSV."""
    groups = unanswered.group(runtime_for(cfg).unanswered())[: args.top]
    if args.csv:
        with open(args.csv, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["count", "example", "last_seen", "all_questions"])
            for g in groups:
                writer.writerow([g.count, g.example, g.last_seen, " | ".join(g.questions)])
        print(f"✓ wrote {len(groups)} groups to {args.csv}")
        return 0
    if not groups:
        print("没有未答问题 / no unanswered questions")
    for g in groups:
        print(f"{g.count:>4}  {g.example}  (最近 / last {g.last_seen})")
    return 0


def cmd_stale(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Entries not verified for over a year, or never verified."""
    rows = publish.stale(cfg, dt.date.today(), args.days)
    for r in rows:
        age = f"{r['age_days']} 天前 / days ago" if r["age_days"] is not None else ""
        print(f"{r['kind']:<9} {r['id']:<40} {r['file']:<22} {r['verified']} {age}")
    print(f"\n{len(rows)} 条需要核实 / entries need verification")
    return 0


def cmd_cite_check(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Check every legal_basis against the statute library; list what needs checking by hand."""
    from miyun.knowledge import statutes, statutes_check

    try:
        report = statutes_check.check(cfg.content_dir, statutes.Library(cfg.statutes_index, cfg.content_dir))
    except statutes.StatutesUnavailable as exc:
        print(f"✗ {exc}")
        return 2
    print("\n".join(statutes_check.format_report(report, verbose=args.verbose)))
    return 0 if report.ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="content", description="密云法治服务助手 content tools for staff")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help=cmd_validate.__doc__).set_defaults(fn=cmd_validate)
    sub.add_parser("build", help=cmd_build.__doc__).set_defaults(fn=cmd_build)
    sub.add_parser("diff", help=cmd_diff.__doc__).set_defaults(fn=cmd_diff)
    pub = sub.add_parser("publish", help=cmd_publish.__doc__)
    pub.add_argument("--by", required=True, help="who publishes (name)")
    pub.add_argument("--note", required=True, help="what changed and why")
    pub.set_defaults(fn=cmd_publish)
    rb = sub.add_parser("rollback", help=cmd_rollback.__doc__)
    rb.add_argument("version", nargs="?", type=int, help="version number (default: the previous one)")
    rb.add_argument("--by", default="staff", help="who rolls back")
    rb.add_argument("--force", action="store_true", help="roll back even if content/ has unpublished edits (they are lost)")
    rb.set_defaults(fn=cmd_rollback)
    sub.add_parser("versions", help=cmd_versions.__doc__).set_defaults(fn=cmd_versions)
    se = sub.add_parser("search", help=cmd_search.__doc__)
    se.add_argument("question")
    se.add_argument("--limit", type=int, default=3)
    se.add_argument("--staging", action="store_true", help="search the staging build instead of the live one")
    se.set_defaults(fn=cmd_search)
    un = sub.add_parser("unanswered", help=cmd_unanswered.__doc__)
    un.add_argument("--top", type=int, default=30)
    un.add_argument("--csv", help="write the groups to this CSV file (UTF-8 with BOM, opens in Excel)")
    un.set_defaults(fn=cmd_unanswered)
    cc = sub.add_parser("cite-check", help=cmd_cite_check.__doc__)
    cc.add_argument("--verbose", action="store_true", help="also list every citation that passed")
    cc.set_defaults(fn=cmd_cite_check)
    st = sub.add_parser("stale", help=cmd_stale.__doc__)
    st.add_argument("--days", type=int, default=365)
    st.set_defaults(fn=cmd_stale)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    return args.fn(args, settings_mod.load())


if __name__ == "__main__":
    sys.exit(main())
