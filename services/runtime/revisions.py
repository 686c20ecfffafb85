"""Frozen SQL of the runtime-owned tables, for the services' migration revisions to include in their own history
(one history per service: each service's revision puts these tables into the service's schema).

Frozen: a constant here is never edited once a revision uses it; a change to a runtime table is a new constant
(``..._2``) that each service's next revision includes. The DDL strings in the runtime's modules (``OFFSETS_DDL``,
``LEASES_DDL``, ``RELAY_DDL``, ...) still build scratch schemas that no history owns (tests), and
tests/migrations checks that both build the same tables.
"""

# consumer_sinks.OFFSETS_DDL and consumer_leases.LEASES_DDL as of December 2026: a consumer's positions per topic
# partition, its broker offset hints, its members, partition leases and the partition counts it has seen
CONSUMER_TABLES_1 = r'''
CREATE TABLE IF NOT EXISTS consumer_offsets (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
    cluster_id text NOT NULL DEFAULT '', PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, sequence bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_members (
    consumer text NOT NULL, member text NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (consumer, member)
);
CREATE TABLE IF NOT EXISTS consumer_leases (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, holder text, epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz, PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_partition_counts (
    consumer text NOT NULL, topic text NOT NULL, partitions int NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partitions)
);
'''

# relay.RELAY_DDL as of December 2026 (the relay's position, chain and partition plan per topic); the baselines of
# registry, attendance, casework and notifications have it already
RELAY_TABLES_1 = r'''
CREATE TABLE IF NOT EXISTS relay_position (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    cluster_id text,
    chain jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE relay_position ADD COLUMN IF NOT EXISTS partitions jsonb;
'''


# consumer_dlq.DEAD_LETTERS_DDL as of December 2026: each consumer's dead letters, recorded once by the message's
# identity in the fenced transaction that skips it; replayed by `baoxue deadletters replay`
DEAD_LETTERS_1 = r'''
CREATE TABLE IF NOT EXISTS consumer_dead_letters (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    identity text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    "offset" bigint NOT NULL,
    sequence bigint,
    event_type text,
    subject text,
    reason text NOT NULL,
    error text NOT NULL,
    message_key bytea,
    message_value bytea,
    header_names text[] NOT NULL,
    header_values bytea[] NOT NULL,
    status text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'replayed')),
    replay_attempts int NOT NULL DEFAULT 0,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    replayed_at timestamptz,
    published boolean NOT NULL DEFAULT false,
    UNIQUE (consumer, identity)
);
CREATE INDEX IF NOT EXISTS consumer_dead_letters_unpublished ON consumer_dead_letters (consumer) WHERE NOT published;
'''

# relay_shards.SHARDS_DDL as of December 2026: a relay's position, chain and broker per topic partition (its replicas
# publish disjoint partitions at once), and the lease tables its replicas share them by (those of a consumer: a
# service that has consumers has them already, so IF NOT EXISTS leaves them be)
RELAY_TABLES_2 = r'''
CREATE TABLE IF NOT EXISTS relay_partitions (
    topic text NOT NULL,
    partition int NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    prev bigint NOT NULL DEFAULT 0,
    cluster_id text,
    published_upto bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_members (
    consumer text NOT NULL, member text NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (consumer, member)
);
CREATE TABLE IF NOT EXISTS consumer_leases (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, holder text, epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz, PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_partition_counts (
    consumer text NOT NULL, topic text NOT NULL, partitions int NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partitions)
);
'''
