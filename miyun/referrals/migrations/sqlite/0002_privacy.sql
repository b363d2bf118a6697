-- 0002: a random check code makes the public reference (MY-2026-000123-K7QX) unguessable; failed
-- status checks are counted per reference whatever the sender, and too many lock the reference
-- until staff unlock it (issue 15).
alter table referrals add column check_code text;
create table if not exists status_failures (
    id integer primary key,
    ref text not null,
    at real not null
);
create index if not exists status_failures_ref on status_failures (ref, at);
create table if not exists status_locks (
    ref text primary key,
    locked_at text not null,
    failures integer not null
);
