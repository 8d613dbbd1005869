#include "store/migrations.hpp"

namespace mnigs {

// Append only. A migration that has shipped is never edited: databases in the
// field already carry its user_version and will not run it again. Fix a
// mistake with a new migration instead.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list{
      {1, "plugin key-value store",
       R"sql(
CREATE TABLE plugin_kv (
  plugin  TEXT    NOT NULL,  -- the plugin's name: its namespace
  key     TEXT    NOT NULL,
  value   TEXT    NOT NULL,
  updated INTEGER NOT NULL,  -- unix time of the last write, seconds
  PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
)sql"},
  };
  return list;
}

int latest_schema_version() {
  const auto& list = migrations();
  return list.empty() ? 0 : list.back().version;
}

}  // namespace mnigs
