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
      {2, "gateway sessions and the subscriber's connection",
       R"sql(
CREATE TABLE gateway_sessions (
  id                 TEXT    PRIMARY KEY,  -- hex, from the CSPRNG
  secret             TEXT    NOT NULL,     -- hex, from the CSPRNG; file is 0600
  subscriber_address TEXT    NOT NULL,     -- the only address renew/release is taken from
  gateway_address    TEXT    NOT NULL,     -- our address the subscriber reached
  name               TEXT    NOT NULL,
  port               INTEGER NOT NULL,     -- the subscriber's RPC port
  suite              TEXT    NOT NULL,
  tunnel             TEXT    NOT NULL,     -- JSON: what the tunnel plugin returned
  created            INTEGER NOT NULL,     -- unix time, seconds
  expires            INTEGER NOT NULL      -- unix time, seconds
);
CREATE TABLE subscriber_connection (
  id              INTEGER PRIMARY KEY CHECK (id = 1),  -- one connection at a time
  gateway_address TEXT    NOT NULL,
  gateway_port    INTEGER NOT NULL,
  gateway_name    TEXT    NOT NULL,
  session_id      TEXT    NOT NULL,
  secret          TEXT    NOT NULL,
  suite           TEXT    NOT NULL,
  tunnel          TEXT    NOT NULL,  -- JSON: the reply's "tunnel" object
  timeout         INTEGER NOT NULL,  -- seconds the gateway grants per renewal
  created         INTEGER NOT NULL,
  expires         INTEGER NOT NULL
);
)sql"},
  };
  return list;
}

int latest_schema_version() {
  const auto& list = migrations();
  return list.empty() ? 0 : list.back().version;
}

}  // namespace mnigs
