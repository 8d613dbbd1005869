// The database schema as a numbered list of migrations. The Store applies
// each one not yet in the file, in order, each in its own transaction that
// also sets PRAGMA user_version to its number. See README.md before adding one.
#pragma once

#include <vector>

namespace mnigs {

struct Migration {
  int version;              // 1, 2, 3 ... with no gaps
  const char* description;  // shown in logs and errors, e.g. "plugin key-value store"
  const char* sql;          // one or more statements; no BEGIN/COMMIT
};

// The migrations this mnigsd knows, oldest first. Thread-safe (immutable).
const std::vector<Migration>& migrations();

// The version of the newest migration: the schema this mnigsd writes.
int latest_schema_version();

}  // namespace mnigs
