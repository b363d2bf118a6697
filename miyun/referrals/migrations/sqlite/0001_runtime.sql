-- 0001: the runtime store as it was before versioned migrations (idempotent: an existing
-- runtime.db created by the old inline schema is adopted unchanged).
create table if not exists unanswered (
    id integer primary key,
    created_at text not null,
    question text not null,
    normalized text not null,
    sender_hash text,
    best_id text,
    best_score real
);
-- The autoincrement id is the referral number sequence: unique across every process sharing the file.
create table if not exists referrals (
    id integer primary key autoincrement,
    ref text unique,
    idempotency_key text unique not null,
    kind text not null,
    created_at text not null,
    updated_at text not null,
    status text not null,
    level text,
    target text,
    dispute_type text,
    town text,
    village text,
    description text,
    involvement text,
    name text,
    phone text,
    contact_time text,
    sender_hash text,
    channel text,
    assigned_to text,
    anonymized integer not null default 0
);
create table if not exists referral_audit (
    id integer primary key,
    ref text not null,
    at text not null,
    actor text not null,
    action text not null,
    before text,
    after text,
    note text
);
create table if not exists status_attempts (
    id integer primary key,
    sender_hash text not null,
    at real not null
);
create index if not exists status_attempts_sender on status_attempts (sender_hash, at);
create table if not exists feedback (
    id integer primary key,
    created_at text not null,
    content_id text,
    helpful integer not null,
    comment text,
    sender_hash text
);
create table if not exists content_versions (
    version integer primary key,
    created_at text not null,
    published_by text not null,
    note text not null,
    checksum text not null,
    archive text not null,
    changes text not null,
    action text not null default 'publish'
);
