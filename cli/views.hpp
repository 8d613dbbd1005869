// The text mnigs-cli prints for mnigsd's RPC results. Each function takes a
// method's `result` object as the daemon sends it and returns whole lines;
// `now` (seconds since the epoch) is what "ago" and "in" count from. Every
// string taken from a result goes through terminal_safe (table.hpp): much of
// it was sent by other nodes. A missing field, or a scalar of another type,
// shows as "-" or 0; a result of another shape altogether (an object where
// an array belongs) throws Json::LogicError.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <string>

namespace mnigs::cli {

// nodeInfo.
std::string render_info(const Json::Value& node_info);

// status, with what listSessions, scanStatus and dhtStatus returned; a null
// Value for a call that failed leaves its line out.
std::string render_status(const Json::Value& status, const Json::Value& sessions,
                          const Json::Value& scan, const Json::Value& dht, std::int64_t now);

// listPlugins: NAME KIND VERSION STATE DETAIL, DETAIL being the error when
// there is one and the summary otherwise.
std::string render_plugins(const Json::Value& list_plugins);

// listSessions: the subscriber's connection, then the gateway's sessions.
// testGateway's answer.
std::string render_gateway_test(const Json::Value& r);
std::string render_sessions(const Json::Value& list_sessions, std::int64_t now);
// A session's "payment" as one line: "payment required: open URL", or what
// is left of what was paid; "" for a session that needs none.
std::string payment_text(const Json::Value& payment);
// listVouchers' or createVouchers' "vouchers": a table, or (`created`) the
// codes one per line under the terms they share.
std::string render_vouchers(const Json::Value& vouchers, bool created, std::int64_t now);

// scanStatus of a finished scan: one summary line and each plugin's error.
std::string render_scan_summary(const Json::Value& scan_status);

// tether.pairing: the page's URLs and the pairing code, then the state.
std::string render_tether(const Json::Value& pairing);
// One line: the tether's state and, when there is one, why.
std::string tether_state_line(const Json::Value& pairing);

// The QR code of `text` in the terminal, two modules per character (half
// blocks), black on white whatever the terminal's colours; "" when this
// mnigs-cli was built without libqrencode or the text does not fit.
std::string render_qr(const std::string& text);

// listGateways (`gateways_only`) or listNodes: one row per node.
std::string render_nodes(const Json::Value& list, bool gateways_only, std::int64_t now);

}  // namespace mnigs::cli
