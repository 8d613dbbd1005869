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
      {3, "scan results: nodes, links and scans",
       R"sql(
CREATE TABLE nodes (
  id         TEXT    PRIMARY KEY,  -- nodeInfo's id
  name       TEXT    NOT NULL,
  address    TEXT    NOT NULL,     -- the address that answered
  port       INTEGER NOT NULL,
  addresses  TEXT    NOT NULL,     -- JSON array: every address discovery gave for it
  networks   TEXT    NOT NULL,     -- JSON array: discovery networks that reported it
  mesh_ids   TEXT    NOT NULL,     -- JSON object: network -> the protocol's node id
  gateway    INTEGER NOT NULL,     -- 0 or 1, as nodeInfo said
  info       TEXT    NOT NULL,     -- JSON: the whole nodeInfo reply
  rtt_ms     INTEGER NOT NULL,     -- how long nodeInfo took
  first_seen INTEGER NOT NULL,     -- unix time, seconds
  last_seen  INTEGER NOT NULL,
  last_scan  INTEGER NOT NULL      -- scans.id of the last scan that reached it
);
CREATE TABLE links (
  network   TEXT    NOT NULL,
  from_node TEXT    NOT NULL,      -- the protocol's node ids; "" is this node
  to_node   TEXT    NOT NULL,
  cost      INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (network, from_node, to_node)
) WITHOUT ROWID;
CREATE TABLE scans (
  id         INTEGER PRIMARY KEY,
  started    INTEGER NOT NULL,
  finished   INTEGER NOT NULL,
  candidates INTEGER NOT NULL,
  probed     INTEGER NOT NULL,
  found      INTEGER NOT NULL,
  gateways   INTEGER NOT NULL,
  errors     TEXT    NOT NULL      -- JSON array
);
)sql"},
      {4, "gateway offers heard in the DHT",
       R"sql(
CREATE TABLE dht_offers (
  node_id  TEXT    PRIMARY KEY,  -- the publisher's DHT identity (hex key id)
  offer    TEXT    NOT NULL,     -- JSON: the verified offer
  received INTEGER NOT NULL,     -- unix time it was last heard
  expires  INTEGER NOT NULL      -- unix time it stops being believed
);
)sql"},
      {5, "gateway test results (testGateway)",
       R"sql(
CREATE TABLE gateway_tests (
  id      INTEGER PRIMARY KEY,
  address TEXT    NOT NULL,  -- the gateway tested
  time    INTEGER NOT NULL,  -- unix time of the test
  result  TEXT    NOT NULL   -- JSON: what testGateway answered
);
CREATE INDEX gateway_tests_by_address ON gateway_tests (address, time);
)sql"},
      {6, "metering and vouchers: what each session used, how it pays",
       R"sql(
-- bytes from the subscriber, and to it
ALTER TABLE gateway_sessions ADD COLUMN bytes_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gateway_sessions ADD COLUMN bytes_in  INTEGER NOT NULL DEFAULT 0;
-- JSON: {"charged", "portal", "portalPort", "vouchers": [voucher ids, in the order redeemed]}
-- (sessions from before were granted free)
ALTER TABLE gateway_sessions ADD COLUMN payment TEXT NOT NULL DEFAULT '{"charged": false}';
CREATE TABLE vouchers (
  id          INTEGER PRIMARY KEY,
  code        TEXT    NOT NULL UNIQUE,  -- 12 characters of Crockford's base32, no dashes
  minutes     INTEGER NOT NULL,         -- from the first use; 0: no time limit
  bytes       INTEGER NOT NULL,         -- both ways together; 0: no limit
  rate_down   INTEGER NOT NULL,         -- bits per second; 0: not limited
  rate_up     INTEGER NOT NULL,
  devices     INTEGER NOT NULL,         -- sessions holding it at once
  valid_until INTEGER NOT NULL,         -- unix seconds; 0: no deadline
  note        TEXT    NOT NULL,
  created     INTEGER NOT NULL,
  first_used  INTEGER NOT NULL DEFAULT 0,
  used_bytes  INTEGER NOT NULL DEFAULT 0,  -- what it used, whatever session used it
  revoked     INTEGER NOT NULL DEFAULT 0
);
)sql"},
      {7, "the gateway key the subscriber's tunnel pins",
       R"sql(
-- TunnelSession params "gatewayKey" and "gatewayKeySource" ("offer" or
-- "nodeInfo"), kept so that a resumed tunnel pins the same key; '' for none
ALTER TABLE subscriber_connection ADD COLUMN gateway_key        TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriber_connection ADD COLUMN gateway_key_source TEXT NOT NULL DEFAULT '';
)sql"},
      {8, "the key a gateway admits a session's subscriber by",
       R"sql(
-- TunnelSession::subscriber_key: "subscriberKey" of the request, so that a
-- resumed tunnel end admits (gateway) or shows (subscriber) the same key;
-- '' for none
ALTER TABLE gateway_sessions      ADD COLUMN subscriber_key TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriber_connection ADD COLUMN subscriber_key TEXT NOT NULL DEFAULT '';
)sql"},
  };
  return list;
}

int latest_schema_version() {
  const auto& list = migrations();
  return list.empty() ? 0 : list.back().version;
}

}  // namespace mnigs
