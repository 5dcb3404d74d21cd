import GRDB

/// Versioned schema of the embedded store. Each step runs once, in order, inside a transaction.
enum SQLiteSchema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: resources and change log") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        key TEXT PRIMARY KEY,
                        value TEXT NOT NULL
                    );
                    -- One row per object ever written; value is NULL once deleted (a tombstone,
                    -- which keeps an emptied collection existing).
                    CREATE TABLE resources (
                        path TEXT PRIMARY KEY,
                        parent TEXT NOT NULL,
                        value TEXT,
                        version INTEGER NOT NULL,
                        created_seq INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX resources_live_by_parent ON resources(parent, created_seq) WHERE value IS NOT NULL;
                    CREATE INDEX resources_by_parent ON resources(parent);
                    -- The change log. AUTOINCREMENT: a sequence number is never reused, even
                    -- after retention emptied the table.
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        path TEXT NOT NULL,
                        parent TEXT NOT NULL,
                        kind INTEGER NOT NULL,
                        time INTEGER NOT NULL,
                        value TEXT
                    );
                    CREATE INDEX events_by_path ON events(path, seq);
                    CREATE INDEX events_by_parent ON events(parent, seq);
                    """)
        }
        migrator.registerMigration("v2: registrations") { db in
            try db.execute(
                sql: """
                    CREATE TABLE registrations (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        subject TEXT,
                        payload TEXT NOT NULL,
                        cursor INTEGER NOT NULL,
                        expires_at INTEGER
                    );
                    CREATE INDEX registrations_by_kind ON registrations(kind);
                    """)
        }
        migrator.registerMigration("v3: creation times for timelines") { db in
            try db.execute(
                sql: """
                    ALTER TABLE resources ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
                    UPDATE resources SET created_at = updated_at;
                    CREATE INDEX resources_live_by_time ON resources(parent, created_at) WHERE value IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v4: leases") { db in
            try db.execute(
                sql: """
                    CREATE TABLE leases (
                        name TEXT PRIMARY KEY,
                        holder TEXT NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v5: registration tokens") { db in
            // Filled in by the feature that owns a registration when it next starts: only it
            // knows where its payload keeps the token.
            try db.execute(
                sql: """
                    ALTER TABLE registrations ADD COLUMN token TEXT COLLATE BINARY;
                    CREATE UNIQUE INDEX registrations_by_token ON registrations(token) WHERE token IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v6: registrations by owner") { db in
            // A quota counts an owner's registrations on every create: by subject, or for an
            // anonymous caller by the beginning of the payload, where its address is kept
            // (`RegistrationOwner.indexedPrefixCharacters`).
            try db.execute(sql: "CREATE INDEX registrations_by_owner ON registrations(kind, subject, substr(payload, 1, 96))")
        }
        return migrator
    }
}
